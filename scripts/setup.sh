#!/usr/bin/env bash
# Idempotent set-up: a venv in .venv with the project and its pinned dependencies.
# Re-installs only when constraints.txt or setup.cfg changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
stamp=".venv/.installed-$(cat constraints.txt setup.cfg | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up .venv with $PY (pinned by constraints.txt) ..."
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[airflow,test]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip check
  rm -f .venv/.installed-*
  touch "$stamp"
fi
