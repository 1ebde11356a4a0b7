#!/usr/bin/env bash
# The browser test drives Debian's chromium (headless, through Playwright's
# executable_path; no browser download). Installs it only when it is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package, for the browser test) ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  # without recommends (udev, mesa, printing, ...) but with a font, so screenshots show text
  install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }
  # skip the index refresh when another set-up step (postgres.sh) just did it; refresh if that fails
  if find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | grep -q . && install; then
    exit 0
  fi
  $SUDO apt-get update -qq
  install
fi
