#!/bin/bash
# Installs the package into a Debian root (no systemd booted) and runs smoke.py there: the device
# plugin registers with the kubelet stand-in, READY=1 arrives through the sd-notify build,
# `detect` prints the sample board's labels.
#
# Usage: test/e2e/run-root-smoke.sh <suite> <arch> [smoke.py option…]
#   test/e2e/run-root-smoke.sh trixie riscv64     Debian 13 riscv64 under qemu-user: Node 20 (ABI 115)
#   test/e2e/run-root-smoke.sh bookworm amd64     Debian 12: Node 18.20.4 (ABI 108), the oldest run here
# Needs build/deb/riscv-runner-node_*_<arch>.deb (npm run package:deb). Ends with "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"

suite=${1:?usage: run-root-smoke.sh <suite> <arch> [smoke.py option…]}
arch=${2:?usage: run-root-smoke.sh <suite> <arch> [smoke.py option…]}
shift 2
WORK=${E2E_WORK:-/var/tmp/riscv-runner-node-e2e}
root="$WORK/$suite-$arch-smoke"
t_all=$(date +%s.%N)
since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }

deb=$(ls -t "$top"/build/deb/riscv-runner-node_*_"$arch".deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  echo "no build/deb/riscv-runner-node_*_$arch.deb: run npm run package:deb first" >&2
  exit 2
fi
echo "package under test: $(basename "$deb") in Debian $suite $arch"

e2e_stage host-tools e2e_host_tools || exit 1
if [ "$arch" = riscv64 ]; then e2e_stage binfmt e2e_binfmt_riscv64 || exit 1; fi
e2e_stage "root $suite-$arch" e2e_root "$suite" "$arch" "$root" || exit 1

share="$root/opt/e2e"
mkdir -p "$share"
cp "$deb" "$share/"
node "$here/bundle-fakes.mjs" "$share/fakes" >/dev/null || exit 1
cp -r "$top/test/fixtures/roots/scw-em-rv1" "$share/fixture"
cp "$top/test/fixtures/detect/scw-em-rv1.json" "$share/expected.json"
cp "$here/smoke.py" "$share/"

t=$(date +%s.%N)
if ! e2e_chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/opt/e2e/$(basename "$deb")" >"$WORK/apt-$suite-$arch.log" 2>&1; then
  tail -20 "$WORK/apt-$suite-$arch.log"
  echo "FAIL apt install ./$(basename "$deb")"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "stage apt install (with nodejs): $(since "$t") s"
echo "PASS apt install ./$(basename "$deb"): nodejs $(e2e_chroot "$root" dpkg-query -W -f='${Version}' nodejs), node $(e2e_chroot "$root" node --version) (ABI $(e2e_chroot "$root" node -p process.versions.modules))"
grep -q 'systemctl\|Created symlink' "$WORK/apt-$suite-$arch.log" && echo "  (postinst output: $(grep -c 'Created symlink' "$WORK/apt-$suite-$arch.log") symlinks)"

t=$(date +%s.%N)
e2e_chroot "$root" python3 /opt/e2e/smoke.py --fakes /opt/e2e/fakes --fixture /opt/e2e/fixture \
  --expect /opt/e2e/expected.json "$@" | tee "$WORK/smoke-$suite-$arch.log"
echo "stage smoke: $(since "$t") s"
echo "stage total $suite-$arch: $(since "$t_all") s"
passed=$(($(grep -c '^PASS' "$WORK/smoke-$suite-$arch.log") + 1))
failed=$(grep -c '^FAIL' "$WORK/smoke-$suite-$arch.log")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
