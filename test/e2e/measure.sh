#!/bin/bash
# Figures for the packaged daemons: start -> READY=1 and peak RSS (median of several runs) on
# Debian 13's Node 20 and Debian 12's Node 18, the same under riscv64 emulation, systemd-analyze
# security exposure and verify per unit, lintian summary, package and installed sizes.
#
# Usage: test/e2e/measure.sh [runs]      (default 7; needs build/deb from npm run package:deb)
# Writes the summary to build/measure.txt as well.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"
runs=${1:-7}
WORK=${E2E_WORK:-/var/tmp/riscv-runner-node-e2e}
summary="$top/build/measure.txt"
mkdir -p "$top/build"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

median() { python3 -c 'import json,statistics,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]) or []; print(statistics.median(v) if v else "n/a")' "$1" "$2"; }

measure_root() {
  local suite=$1 arch=$2 n=$3 label=$4 json
  shift 4
  json="$WORK/$suite-$arch-smoke/opt/e2e/result.json"
  rm -f "$json"
  "$here/run-root-smoke.sh" "$suite" "$arch" --runs "$n" --json /opt/e2e/result.json "$@" >"$WORK/measure-$suite-$arch.log" 2>&1 ||
    say "  ($label: smoke test failed, see $WORK/measure-$suite-$arch.log)"
  [ -f "$json" ] || return
  say "$label: plugin start -> READY=1 median $(median "$json" plugin_ready_s) s, peak RSS $(($(median "$json" plugin_rss_kib | cut -d. -f1) / 1024)) MiB (n=$n)"
  if grep -q labeller_ready "$json" && [ "$(median "$json" labeller_ready_s)" != n/a ]; then
    say "$label: labeller start -> READY=1 median $(median "$json" labeller_ready_s) s, peak RSS $(($(median "$json" labeller_rss_kib | cut -d. -f1) / 1024)) MiB (n=$n)"
  fi
}

for deb in "$top"/build/deb/riscv-runner-node_*.deb; do
  say "$(basename "$deb"): $(($(stat -c %s "$deb") / 1024)) KiB, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
done
for f in "$top"/build/deb/lintian-*.txt; do
  [ -f "$f" ] || continue
  say "lintian $(basename "$f" .txt | sed 's/lintian-//'): $(grep -c '^E: ' "$f") errors, $(grep -c '^W: ' "$f") warnings, $(grep -c '^I: ' "$f") info, $(grep -c '^O: ' "$f") overridden (with reasons)"
done

measure_root trixie amd64 "$runs" "Debian 13 amd64, Node 20" --labeller
root="$WORK/trixie-amd64-smoke"
for unit in rise-device-plugin rise-node-labeller; do
  score=$(e2e_chroot "$root" systemd-analyze security --offline=true --no-pager "/usr/lib/systemd/system/$unit.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)/\1 \2/p')
  say "systemd-analyze security --offline=true $unit (systemd $(e2e_chroot "$root" dpkg-query -W -f='${Version}' systemd)): $score"
done
verify=$(e2e_chroot "$root" systemd-analyze verify rise-device-plugin.service rise-node-labeller.service 2>&1)
say "systemd-analyze verify: ${verify:-clean}"
measure_root bookworm amd64 "$runs" "Debian 12 amd64, Node 18" --labeller
measure_root trixie riscv64 3 "Debian 13 riscv64 under qemu-user, Node 20"
echo "summary written to $summary"
