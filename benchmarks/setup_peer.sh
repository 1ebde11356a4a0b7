#!/usr/bin/env bash
# The benchmark peers' venv, .venv-peer at the repository root (never our .venv):
#   astronomer's dag-factory 1.1.0 (PyPI `dag-factory`), check-jsonschema 0.39.0, and pandas for
#   the SqlToS3Operator-style extraction path (psycopg, PyMySQL), on the same Airflow 3.3.2 + providers-amazon as ours,
#   pinned by our constraints.txt where it has a pin. pyinstrument is for profiling only.
# Idempotent: re-installs only when this script or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV=.venv-peer
stamp="$VENV/.installed-$(cat constraints.txt benchmarks/setup_peer.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up $VENV with $PY ..."
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt \
    "apache-airflow==3.3.2" apache-airflow-providers-amazon \
    "dag-factory==1.1.0" "check-jsonschema==0.39.0" \
    pandas pyarrow "psycopg[binary]" pymysql psutil pyinstrument 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -m pip check
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
"$VENV/bin/python" -c "import importlib.metadata as m; print('peer venv:', ', '.join(f'{p} {m.version(p)}' for p in ('apache-airflow', 'dag-factory', 'check-jsonschema', 'pandas', 'pyarrow')))"
