#!/usr/bin/env bash
# Command two: set up and run the whole test suite (starts its own PostgreSQL and Airflow;
# the browser test uses Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
scripts/postgres.sh
scripts/mariadb.sh
scripts/redis.sh
scripts/chromium.sh
scripts/tmux.sh
exec .venv/bin/python -m pytest "$@"
