#!/usr/bin/env bash
# Command one: set up, seed the demo shop (SQLite) and run the example pipelines
# for several days through Airflow (SQLite metadata DB) into DuckDB.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/dag-factory demo "$@"
