#!/usr/bin/env bash
# The Celery end-to-end test starts its own throwaway Redis (the broker) from Debian's
# redis-server package; this only makes sure the package is there.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  echo "installing Redis server (Debian package) ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
