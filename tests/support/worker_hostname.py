"""`[core] hostname_callable` for Airflow components that share one test machine.

Airflow records `socket.getfqdn()` as a task instance's hostname, so two Celery workers on
one machine would look like one. Each worker of the cluster test gets its own name through
DAG_FACTORY_TEST_HOSTNAME, as it would have on its own machine. Imported by Airflow in the
worker processes (PYTHONPATH holds the repository): stdlib only."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("DAG_FACTORY_TEST_HOSTNAME") or socket.getfqdn()
