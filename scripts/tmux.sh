#!/usr/bin/env bash
# The terminal-session tests (`dag-factory new` answering its prompts) drive Debian's tmux:
# prompts only appear on a real terminal. Installs it only when it is missing.
set -euo pipefail
if ! command -v tmux >/dev/null; then
  echo "installing tmux (Debian package, for the terminal-session tests) ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends tmux >/dev/null; }
  if find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | grep -q . && install; then
    exit 0
  fi
  $SUDO apt-get update -qq
  install
fi
