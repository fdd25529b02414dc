#!/bin/bash
# Builds riscv-runner-node_<version>_<arch>.deb for each arch with dpkg-deb, then runs lintian.
#
# Usage: packaging/build-deb.sh [arch…]        (default: amd64 riscv64)
# Output: build/deb/riscv-runner-node_<version>_<arch>.deb, and build/deb/lintian-<arch>.txt
# Environment:
#   RRN_DEB_VERSION   version to stamp (default: <package.json version>+git<commit time>.g<sha>,
#                     so every commit builds a newer package than the one before)
#   RRN_DEB_OUT       output directory (default build/deb)
#   RRN_SKIP_LINTIAN  set to 1 to skip lintian
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=${RRN_DEB_OUT:-$top/build/deb}
arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=(amd64 riscv64)
PKG=riscv-runner-node
MAINTAINER=${DEB_MAINTAINER:-riscv-runner-node maintainers <riscv-runner-node@riseproject.dev>}

t0=$(date +%s.%N)
t_stage=$t0
# Prints how long the stage that just ended took, and the total so far.
stage() {
  local now
  now=$(date +%s.%N)
  awk -v l="$1" -v s="$t_stage" -v e="$now" -v t="$t0" 'BEGIN { printf "stage package:deb %s: %.1f s (total %.1f s)\n", l, e - s, e - t }'
  t_stage=$now
}

upstream=$(node -p "require('$top/package.json').version")
if [ -n "${RRN_DEB_VERSION:-}" ]; then
  version=$RRN_DEB_VERSION
elif git -C "$top" rev-parse --verify -q HEAD >/dev/null; then
  # Commit time, not author time: later commits on main always sort higher.
  version="$upstream+git$(TZ=UTC git -C "$top" log -1 --format=%cd --date=format-local:%Y%m%d.%H%M%S).g$(git -C "$top" log -1 --format=%h)"
else
  version="$upstream"
fi
echo "version $version"

work="$top/build/deb-work"
rm -rf "$work"
mkdir -p "$work" "$out"

# 1. The bundle (arch-independent) and the native builds (per arch).
(cd "$top" && node packaging/bundle.mjs "$work/bundle" >"$work/bundle.log")
sed -n '1p' "$work/bundle.log"
# The bundle is not run directly: /usr/bin/riscv-runner-node starts it with /usr/bin/node.
sed -i '1{/^#!/d}' "$work/bundle/cli.js"
stage bundle
"$here/build-native.sh" "$work/native" "${arches[@]}"
stage native

node "$here/copyright.mjs" "$work/bundle-meta.json" "$work/native/LICENSE.sd-notify" >"$work/copyright"

build_arch() {
  local arch=$1 root="$work/root-$arch" lib
  lib="$root/usr/lib/$PKG"
  rm -rf "$root"
  install -d "$lib" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/$PKG" \
    "$root/usr/share/doc/$PKG/examples" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides" "$root/DEBIAN"

  cp -r "$work/bundle/." "$lib/"
  find "$lib" -type f -exec chmod 0644 {} +
  # Node decides that .js files are ES modules from the nearest package.json; yargs --version reads it too.
  printf '{\n  "name": "%s",\n  "version": "%s",\n  "type": "module",\n  "private": true\n}\n' "$PKG" "$version" >"$lib/package.json"
  for proto in deviceplugin/v1beta1 pluginregistration/v1 dra/v1 dra/v1beta1; do
    install -D -m 0644 "$top/proto/$proto/api.proto" "$lib/proto/$proto/api.proto"
  done
  for f in "$work/native/$arch"/node-v*/notify.node; do
    install -D -m 0644 "$f" "$lib/native/sd-notify/$(basename "$(dirname "$f")")/notify.node"
  done

  install -m 0755 "$here/riscv-runner-node.sh" "$root/usr/bin/$PKG"
  install -m 0644 "$top/systemd/rise-device-plugin.service" "$top/systemd/rise-node-labeller.service" "$top/systemd/rise-dra-driver.service" "$root/usr/lib/systemd/system/"
  install -D -m 0644 "$top/systemd/kubelet.service.d/riscv-runner-node.conf" "$root/usr/lib/systemd/system/kubelet.service.d/riscv-runner-node.conf"
  install -m 0644 "$here/config.yaml" "$root/etc/$PKG/config.yaml"
  install -m 0644 "$top/systemd/k3s/k3s-agent.conf" "$root/usr/share/doc/$PKG/examples/k3s-agent.conf"
  # Alert rules, their promtool unit test and the Grafana dashboard, uncompressed: Prometheus
  # and Grafana read them as they are (docs/monitoring.md).
  install -D -m 0644 -t "$root/usr/share/doc/$PKG/monitoring" "$top/packaging/monitoring/riscv-runner-node.rules.yml" \
    "$top/packaging/monitoring/riscv-runner-node.rules.test.yml" "$top/packaging/monitoring/riscv-runner-node.dashboard.json"
  [ -f "$top/README.md" ] && install -m 0644 "$top/README.md" "$root/usr/share/doc/$PKG/README.md"
  install -m 0644 "$top/docs/dra.md" "$root/usr/share/doc/$PKG/dra.md"
  install -m 0644 "$top/docs/examples/dra.yaml" "$top/docs/examples/dra-runner-pod.yaml" "$root/usr/share/doc/$PKG/examples/"
  install -m 0644 "$work/copyright" "$root/usr/share/doc/$PKG/copyright"
  sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -d "@$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)")/" \
    -e "s/@MAINTAINER@/$MAINTAINER/" "$here/changelog.in" | gzip -9n >"$root/usr/share/doc/$PKG/changelog.gz"
  gzip -9n <"$here/riscv-runner-node.1" >"$root/usr/share/man/man1/$PKG.1.gz"
  install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/$PKG"

  for script in postinst prerm postrm; do install -m 0755 "$here/maintscripts/$script" "$root/DEBIAN/$script"; done
  echo "/etc/$PKG/config.yaml" >"$root/DEBIAN/conffiles"
  local size libc
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  # What dpkg-shlibdeps would say: the newest glibc symbol version the addon builds need.
  libc=$(readelf -V "$lib"/native/sd-notify/*/notify.node | grep -oE 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -uV | tail -1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@MAINTAINER@/$MAINTAINER/" -e "s/@LIBC@/$libc/" \
    "$here/control.in" >"$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  find "$root" -type d -exec chmod 0755 {} +
  rm -f "$out/${PKG}_"*"_$arch.deb"
  local deb="$out/${PKG}_${version}_$arch.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB, installed $size KiB)"
}

for arch in "${arches[@]}"; do build_arch "$arch"; done
stage dpkg-deb

if [ "${RRN_SKIP_LINTIAN:-}" != 1 ]; then
  command -v lintian >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q -t bookworm install -y --no-install-recommends lintian >/dev/null
  }
  status=0
  for arch in "${arches[@]}"; do
    deb="$out/${PKG}_${version}_$arch.deb"
    # The full report, info and overridden tags with their reasons; the verdict is read from it
    # (lintian 2.116 exits 2 when --show-overrides and --fail-on are combined).
    lintian --display-info --show-overrides "$deb" >"$out/lintian-$arch.txt" 2>&1 || status=$?
    grep -qE '^(E|W): ' "$out/lintian-$arch.txt" && status=1
    printf 'lintian %s: %s errors, %s warnings, %s info, %s overridden\n' "$arch" \
      "$(grep -c '^E: ' "$out/lintian-$arch.txt" || true)" "$(grep -c '^W: ' "$out/lintian-$arch.txt" || true)" \
      "$(grep -c '^I: ' "$out/lintian-$arch.txt" || true)" "$(grep -c '^O: ' "$out/lintian-$arch.txt" || true)"
    grep -E '^(E|W): ' "$out/lintian-$arch.txt" || true
  done
  stage lintian
  exit "$status"
fi
