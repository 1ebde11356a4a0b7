#!/usr/bin/env bash
# The extraction benchmark's peers, each in its own venv at the repository root (never our .venv):
#   .venv-peer-dlt      dlt 1.31 sql_database (pyarrow and connectorx backends) into DuckDB:
#                       dlt[duckdb,sql-database], connectorx 0.4.6, pyarrow, psycopg2-binary, pymysql
#   .venv-peer-sling    Sling 1.4.11 from PyPI's sling-linux-amd64 (the binary ships in the wheel);
#                       its DuckDB target runs a DuckDB CLI (PyPI duckdb-cli 1.4.4, DUCKDB_PATH) that
#                       needs the json and httpfs extensions (PyPI duckdb-ext-json/-httpfs 1.4.4.*),
#                       copied into a private HOME (.venv-peer-sling/home/.duckdb/extensions), so
#                       nothing is fetched at run time and the user's ~/.duckdb is left alone
#   .venv-bench-readers the reader candidates of issue 15 on our pinned pyarrow: ADBC PostgreSQL,
#                       connectorx, mysqlclient (built against libmariadb-dev), PyMySQL, psycopg,
#                       and tpchgen-cli (TPC-H data for the benchmark)
# The astronomer/pandas peer venv is benchmarks/setup_peer.sh. Idempotent: a venv is re-made only
# when this script or constraints.txt changed. `setup_peers.sh dlt|sling|readers` makes one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
HASH="$(cat constraints.txt benchmarks/setup_peers.sh | sha256sum | cut -c1-16)"
PIP=(python -m pip install -q --disable-pip-version-check)

fresh() {  # fresh VENV: true when VENV must be (re)installed
  local venv=$1
  [ -f "$venv/.installed-$HASH" ] && return 1
  echo "setting up $venv with $PY ..."
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  return 0
}

done_() {
  "$1/bin/python" -m pip check
  rm -f "$1"/.installed-*
  touch "$1/.installed-$HASH"
}

dlt() {
  local v=.venv-peer-dlt
  if fresh $v; then
    "$v/bin/${PIP[@]}" "dlt[duckdb,sql-database]==1.31.0" "connectorx==0.4.6" pyarrow pandas \
      psycopg2-binary pymysql psutil
    done_ $v
  fi
  "$v/bin/python" -c "import importlib.metadata as m; print('$v:', ', '.join(f'{p} {m.version(p)}' for p in ('dlt', 'connectorx', 'pyarrow', 'duckdb', 'sqlalchemy')))"
}

sling() {
  local v=.venv-peer-sling
  if fresh $v; then
    "$v/bin/${PIP[@]}" "sling-linux-amd64==1.4.11" "duckdb-cli==1.4.4" \
      "duckdb-ext-json==1.4.4.*" "duckdb-ext-httpfs==1.4.4.*"
    # the wheels install without exec bits; expose the binary as bin/sling
    local sp; sp="$("$v/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    chmod +x "$v/bin/duckdb" "$sp/sling_linux_amd64/bin/sling-linux-amd64"
    ln -sf "$sp/sling_linux_amd64/bin/sling-linux-amd64" "$v/bin/sling"
    # the extension wheels carry <name>.duckdb_extension files; the CLI looks under $HOME/.duckdb
    local dest="$v/home/.duckdb/extensions/v1.4.4/linux_amd64"
    mkdir -p "$dest"
    find "$v/lib" -name "*.duckdb_extension*" -exec cp {} "$dest/" \;
    for f in "$dest"/*.duckdb_extension.gz; do [ -e "$f" ] && gunzip -f "$f"; done
    ls "$dest"/json.duckdb_extension "$dest"/httpfs.duckdb_extension >/dev/null
    done_ $v
  fi
  echo "$v: sling $("$v/bin/sling" --version 2>/dev/null | tail -1), duckdb $("$v/bin/duckdb" --version | cut -d' ' -f1)"
}

readers() {
  local v=.venv-bench-readers
  if fresh $v; then
    if ! command -v mariadb_config >/dev/null && ! command -v mysql_config >/dev/null; then
      apt-get install -y -q libmariadb-dev >/dev/null  # mysqlclient builds against it (no Linux wheels)
    fi
    "$v/bin/${PIP[@]}" -c constraints.txt pyarrow "psycopg[binary]" pymysql \
      adbc-driver-postgresql adbc-driver-manager "connectorx==0.4.6" mysqlclient tpchgen-cli
    done_ $v
  fi
  "$v/bin/python" -c "import importlib.metadata as m; print('$v:', ', '.join(f'{p} {m.version(p)}' for p in ('pyarrow', 'adbc-driver-postgresql', 'connectorx', 'mysqlclient', 'PyMySQL', 'psycopg', 'tpchgen-cli')))"
}

for what in "${@:-dlt sling readers}"; do
  for w in $what; do "$w"; done
done
