#!/usr/bin/env bash
# Prepares a fresh checkout for the demo and the tests: system packages the tests use, then npm ci.
# System packages (installed with apt-get when running as root and missing):
#   libsystemd-dev  to build the sd-notify addon (the notifier's first choice)
#   python3         the stand-in for systemd's notification socket in the tests
#   systemd         provides systemd-notify, the notifier's fallback
#   prometheus      provides promtool, which checks and unit-tests the alert rules and lints
#                   the daemons' /metrics and textfile output
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s libsystemd-dev >/dev/null 2>&1 || need+=(libsystemd-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v systemd-notify >/dev/null 2>&1 || need+=(systemd)
installed_prometheus=no
command -v promtool >/dev/null 2>&1 || { need+=(prometheus); installed_prometheus=yes; }
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: please install ${need[*]} (e.g. sudo apt-get install ${need[*]}), then run this again" >&2
    exit 1
  fi
fi

# Installing prometheus for promtool also enables its server where systemd runs: only promtool
# is wanted, so nothing is left listening on :9090.
if [ "$installed_prometheus" = yes ] && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

# npm ci only when the installed tree is older than the lock file, or lacks sd-notify: npm leaves
# out an optional package whose build failed (an npm ci run before libsystemd-dev was there), and
# npm rebuild cannot bring back a package that is not installed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -d node_modules/sd-notify ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
# sd-notify is optional, so npm does not fail when it cannot build; say so here instead.
if [ ! -f node_modules/sd-notify/build/Release/notify.node ]; then
  echo "setup: sd-notify addon did not build; rebuilding to show why" >&2
  npm rebuild sd-notify --foreground-scripts
fi
