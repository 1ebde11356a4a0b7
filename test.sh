#!/usr/bin/env bash
# Command two: set up and run the whole test suite (starts its own PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
scripts/postgres.sh
exec .venv/bin/python -m pytest "$@"
