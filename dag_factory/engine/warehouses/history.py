"""mode: history, a type-2 history (SCD2) rebuilt from every interval's full extract.

The history is a function of the ordered extracts, never of the order runs happened in: each
run's extract is kept beside the target (`_dagf_hist_<table>`, one copy per interval end) and
publish rebuilds the whole target from all kept extracts in the same transaction. Re-running
an interval replaces its extract; intervals loaded late land in their place.

Versions, by definition (docs/load-types.md): walking the extracts in the order of their
interval ends, a key that appears opens a version; a key whose compare columns differ from the
previous extract closes its version and opens one; a key missing from an extract is closed.
valid_from / valid_to are the interval ends of the extracts that first showed / first no
longer showed the version; non-compare columns come from the version's first extract.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from dag_factory.config.model import Load
from dag_factory.config.schedules import Interval
from dag_factory.engine.identifiers import quote_ident, validate_identifier
from dag_factory.engine.warehouses.base import LoadResult
from dag_factory.errors import EngineError

if TYPE_CHECKING:
    from dag_factory.engine.warehouses.sql import SqlWarehouse, Staged

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
HISTORY_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)
END = "_dagf_end"  # the interval end an extract row belongs to
INSTANT = "TIMESTAMP WITH TIME ZONE"  # DDL both DuckDB and PostgreSQL accept


def extracts_table(wh: SqlWarehouse, s: Staged) -> tuple[str, str]:
    """(name, quoted name) of the kept extracts, beside the target."""
    name = f"_dagf_hist_{s.table}"
    if len(name) > 63:
        name = f"_dagf_hist_{hashlib.sha1(s.table.encode()).hexdigest()[:12]}"
    return name, wh._table_sql(s.schema, name)


def compare_columns(load: Load, names: list[str]) -> list[str]:
    if load.compare:
        missing = [c for c in load.compare if c not in names]
        if missing:
            raise EngineError(f"history compare columns {missing} are not among the extracted columns {names}")
        return [validate_identifier(c) for c in load.compare]
    return [n for n in names if n not in load.primary_key]


def validate(wh: SqlWarehouse, s: Staged, load: Load) -> None:
    """Before the transaction: one row per key, no NULL key, no name clash with the history columns."""
    if not load.primary_key:
        raise EngineError("mode: history needs primary_key (the columns identifying a row across extracts)")
    clash = [n for n in s.names if n in (*HISTORY_COLUMNS, END)]
    if clash:
        raise EngineError(f"history load: the source already has columns named {clash}; rename them in the source query")
    compare_columns(load, s.names)
    keys = ", ".join(quote_ident(k) for k in load.primary_key)
    nulls = " OR ".join(f"{quote_ident(k)} IS NULL" for k in load.primary_key)
    _, dup = wh.fetch(f"SELECT {keys}, count(*) FROM {s.stage_sql} GROUP BY {keys} HAVING count(*) > 1 LIMIT 3")
    if dup:
        raise EngineError(
            f"history load: the extract has several rows per primary_key ({', '.join(load.primary_key)}), e.g. {dup}"
        )
    _, null = wh.fetch(f"SELECT count(*) FROM {s.stage_sql} WHERE {nulls}")
    if null and null[0][0]:
        raise EngineError(f"history load: {null[0][0]} extracted rows have a NULL primary_key ({', '.join(load.primary_key)})")


def rebuild_select(x: str, names: list[str], keys: list[str], compare: list[str]) -> str:
    """The whole history as one SELECT over the kept extracts `x`."""
    q = quote_ident
    same_key = " AND ".join(f"p.{q(k)} = x.{q(k)}" for k in keys)
    same = " AND ".join(f"x.{q(c)} IS NOT DISTINCT FROM p.{q(c)}" for c in compare) or "TRUE"
    by_key = ", ".join(q(k) for k in keys)
    cols = ", ".join(f"v.{q(n)}" for n in names)
    return (
        f"WITH ticks AS (SELECT e, LAG(e) OVER (ORDER BY e) AS prev_e, LEAD(e) OVER (ORDER BY e) AS next_e "
        f"FROM (SELECT DISTINCT {END} AS e FROM {x}) AS d), "
        f"marked AS (SELECT x.*, CASE WHEN p.{END} IS NULL OR NOT ({same}) THEN 1 ELSE 0 END AS _dagf_new "
        f"FROM {x} AS x JOIN ticks AS tk ON tk.e = x.{END} "
        f"LEFT JOIN {x} AS p ON p.{END} = tk.prev_e AND {same_key}), "
        f"numbered AS (SELECT m.*, SUM(_dagf_new) OVER (PARTITION BY {by_key} ORDER BY {END} "
        f"ROWS UNBOUNDED PRECEDING) AS _dagf_v FROM marked AS m), "
        f"versions AS (SELECT n.*, ROW_NUMBER() OVER (PARTITION BY {by_key}, _dagf_v ORDER BY {END}) AS _dagf_rn, "
        f"MAX({END}) OVER (PARTITION BY {by_key}, _dagf_v) AS _dagf_last FROM numbered AS n) "
        f"SELECT {cols}, v.{END} AS {VALID_FROM}, tk.next_e AS {VALID_TO}, tk.next_e IS NULL AS {IS_CURRENT} "
        f"FROM versions AS v JOIN ticks AS tk ON tk.e = v._dagf_last WHERE v._dagf_rn = 1"
    )


def _same_columns(table: str, existing: list[tuple[str, str]], staged: list[tuple[str, str]]) -> None:
    """History keeps the extracts' shape: every kept extract is compared with the others, so a
    changed source shape fails the run (load.on_schema_change does not apply to history yet)."""
    if existing != staged:
        have, want = dict(existing), dict(staged)
        diff = [
            f"{n} (table {have.get(n, 'missing')}, extract {want.get(n, 'missing')})"
            for n in {**have, **want}
            if have.get(n) != want.get(n)
        ]
        raise EngineError(
            f"history table {table} does not match the extracted columns: {'; '.join(diff) or 'column order differs'}. "
            "History keeps every extract in one shape: rebuild the table (drop it and its _dagf_hist_ table) to change it; "
            "nothing was loaded."
        )


def publish_history(wh: SqlWarehouse, s: Staged, load: Load, interval: Interval) -> LoadResult:
    """Keep this interval's extract (replacing an earlier copy of it) and rebuild the target
    from all kept extracts, in one transaction: readers and a killed publish see the previous
    history or the new one."""
    validate(wh, s, load)
    xname, x = extracts_table(wh, s)
    end = interval.end_utc
    names = s.names
    with wh.transaction():
        wh._serialize(f"table {s.target_sql}")
        kept = wh.columns(s.schema, xname)
        if kept is None:
            wh.execute(f"CREATE TABLE {x} AS SELECT {s.col_list}, CAST(NULL AS {INSTANT}) AS {END} FROM {s.stage_sql} LIMIT 0")
        else:
            _same_columns(f"{s.schema or wh.default_schema}.{xname}", [c for c in kept if c[0] != END], s.columns)
        wh.execute(f"DELETE FROM {x} WHERE {END} = {wh.placeholder}", [end])
        wh.execute(
            f"INSERT INTO {x} ({s.col_list}, {END}) SELECT {s.col_list}, CAST({wh.placeholder} AS {INSTANT}) FROM {s.stage_sql}",
            [end],
        )
        existing = wh.columns(s.schema, s.table)
        if existing is None:
            wh.execute(
                f"CREATE TABLE {s.target_sql} AS SELECT {s.col_list}, CAST(NULL AS {INSTANT}) AS {VALID_FROM}, "
                f"CAST(NULL AS {INSTANT}) AS {VALID_TO}, CAST(NULL AS BOOLEAN) AS {IS_CURRENT} FROM {s.stage_sql} LIMIT 0"
            )
        else:
            own = [c for c in existing if c[0] not in HISTORY_COLUMNS]
            if len(own) != len(existing) - len(HISTORY_COLUMNS):
                raise EngineError(f"target {s.target_sql} is not a history table (no {', '.join(HISTORY_COLUMNS)} columns)")
            _same_columns(f"{s.schema or wh.default_schema}.{s.table}", own, s.columns)
        deleted = wh.execute(f"DELETE FROM {s.target_sql}")
        select = rebuild_select(x, names, list(load.primary_key), compare_columns(load, names))
        cols = ", ".join([s.col_list, *(quote_ident(c) for c in HISTORY_COLUMNS)])
        inserted = wh.execute(f"INSERT INTO {s.target_sql} ({cols}) {select}")
        wh.execute(f"DROP TABLE {s.stage_sql}")
    return LoadResult(inserted=inserted, deleted=deleted)
