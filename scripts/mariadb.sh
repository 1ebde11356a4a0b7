#!/usr/bin/env bash
# The MySQL source tests start their own throwaway MariaDB server from Debian's packages
# (tests/support/mariadb.py); this only makes sure the packages are there.
set -euo pipefail
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "installing MariaDB server (Debian packages) ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # the package's own service is not needed (policy-rc.d or no init may refuse to start it)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null
fi
