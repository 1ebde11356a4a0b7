"""Opening a PostgreSQL connection from a ConnInfo, shared by source and warehouse.

Kept in one place so the session settings (UTC, ISO dates) are identical on
both sides and the password never ends up in a message.
"""

from __future__ import annotations

from typing import Any

import psycopg

from dag_factory.engine.connections import ConnInfo
from dag_factory.errors import ConnectionConfigError, EngineError

_PASSTHROUGH_EXTRA = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name")


def connect_postgres(conn: ConnInfo, autocommit: bool = True) -> psycopg.Connection:
    """Connect with TimeZone=UTC and DateStyle=ISO so text values parse unambiguously."""
    if not conn.host:
        raise ConnectionConfigError(f"connection {conn}: PostgreSQL needs a host")
    kwargs: dict[str, Any] = {  # libpq keywords of mixed types; psycopg checks them
        "host": conn.host,
        "port": conn.port or 5432,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.database,
        "autocommit": autocommit,
        "options": "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601",
    }
    for key in _PASSTHROUGH_EXTRA:
        if conn.extra.get(key) is not None:
            kwargs[key] = conn.extra[key]
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        pg = psycopg.connect(**kwargs)
    except psycopg.Error as e:
        # psycopg's message names host/port/user, never the password.
        raise EngineError(f"cannot connect to PostgreSQL connection {conn}: {e}") from e
    pg.execute("SET TimeZone = 'UTC'")
    pg.execute("SET DateStyle = 'ISO, YMD'")
    if not autocommit:
        pg.commit()
    return pg
