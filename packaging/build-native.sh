#!/bin/bash
# Cross-builds the sd-notify addon for each packaged arch and each supported Node ABI.
#
# Usage: packaging/build-native.sh <outdir> [arch…]     (arches: amd64 riscv64; default both)
# Writes <outdir>/<arch>/node-v<abi>/notify.node for ABI 108 (Node 18: Ubuntu 24.04, Debian 12)
# and 115 (Node 20: Debian 13). Headers come from Debian's libnode-dev of bookworm (Node 18) and
# trixie (Node 20), fetched with a private apt configuration, so nothing from trixie is installed
# on the host. The addon is linked against a stub libsystemd.so.0 with the real symbol versions,
# so no riscv64 system is needed to build; the board's own libsystemd0 is what loads at run time.
# Results are cached under $RRN_BUILD_CACHE (default /var/cache/riscv-runner-node-build).
set -euo pipefail

SD_NOTIFY_VERSION=2.8.0
MIRROR=${E2E_MIRROR:-http://deb.debian.org/debian}
CACHE=${RRN_BUILD_CACHE:-/var/cache/riscv-runner-node-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:?usage: build-native.sh <outdir> [arch…]}")
shift
arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=(amd64 riscv64)

log() { printf '[native %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# suite → Node ABI whose headers that suite's libnode-dev carries.
declare -A ABI_OF=([bookworm]=108 [trixie]=115)
declare -A GNU_OF=([amd64]=x86_64-linux-gnu [riscv64]=riscv64-linux-gnu)
declare -A GYP_ARCH_OF=([amd64]=x64 [riscv64]=riscv64)

apt_host() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q "$@"; }

host_tools() {
  local want=(g++ make python3) p missing=()
  for a in "${arches[@]}"; do [ "$a" = amd64 ] || want+=("g++-${GNU_OF[$a]}"); done
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" = 0 ] && return
  log "installing ${missing[*]}"
  apt_host update >/dev/null
  apt_host -t bookworm install -y --no-install-recommends "${missing[@]}" >/dev/null
}

# Downloads one package of <suite> with an apt configuration of its own (no host state touched).
fetch_deb() {
  local suite=$1 pkg=$2 dest=$3 dir="$CACHE/apt-$suite"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dest"
  : >"$dir/status"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$MIRROR" "$suite" >"$dir/sources.list"
  local opts=(-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
    -o "Dir::Cache=$dir/cache" -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o APT::Sandbox::User=root -q)
  apt-get "${opts[@]}" update >/dev/null
  (cd "$dest" && apt-get "${opts[@]}" download "$pkg" >/dev/null)
}

headers_for() {
  local suite=$1 dir="$CACHE/headers-$suite"
  if [ ! -f "$dir/usr/include/node/common.gypi" ]; then
    log "fetching libnode-dev from $suite"
    rm -rf "$dir" "$dir.debs"
    fetch_deb "$suite" libnode-dev "$dir.debs"
    dpkg-deb -x "$dir.debs"/libnode-dev_*.deb "$dir"
  fi
  echo "$dir/usr"
}

# A libsystemd.so.0 exporting what notify.cc calls, with libsystemd's own symbol versions.
stub_libsystemd() {
  local arch=$1 dir="$CACHE/stub-$arch"
  if [ ! -f "$dir/libsystemd.so" ]; then
    mkdir -p "$dir"
    cat >"$dir/stub.c" <<'C'
int sd_notify(int unset_environment, const char *state) { return 0; }
int sd_pid_notify(int pid, int unset_environment, const char *state) { return 0; }
int sd_watchdog_enabled(int unset_environment, unsigned long long *usec) { return 0; }
int sd_journal_print(int priority, const char *format, ...) { return 0; }
C
    cat >"$dir/stub.map" <<'MAP'
LIBSYSTEMD_209 { global: sd_notify; sd_watchdog_enabled; sd_journal_print; local: *; };
LIBSYSTEMD_214 { global: sd_pid_notify; } LIBSYSTEMD_209;
MAP
    "${GNU_OF[$arch]}-gcc" -shared -fPIC -o "$dir/libsystemd.so.0" -Wl,-soname,libsystemd.so.0 \
      -Wl,--version-script="$dir/stub.map" "$dir/stub.c"
    ln -sf libsystemd.so.0 "$dir/libsystemd.so"
  fi
  echo "$dir"
}

source_tree() {
  local dir="$CACHE/sd-notify-$SD_NOTIFY_VERSION"
  if [ ! -f "$dir/notify.cc" ]; then
    log "fetching sd-notify@$SD_NOTIFY_VERSION from the npm registry"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "sd-notify@$SD_NOTIFY_VERSION" >/dev/null)
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xzf "$tmp/sd-notify-$SD_NOTIFY_VERSION.tgz" -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  echo "$dir"
}

node_gyp() {
  local npm_root
  npm_root=$(npm root -g)
  if [ -f "$npm_root/npm/node_modules/node-gyp/bin/node-gyp.js" ]; then
    echo "$npm_root/npm/node_modules/node-gyp/bin/node-gyp.js"
  else
    echo "$here/../node_modules/node-gyp/bin/node-gyp.js"
  fi
}

build_one() {
  local arch=$1 suite=$2 src=$3 gyp=$4 abi=${ABI_OF[$2]} gnu=${GNU_OF[$1]}
  local nodedir stub work key target="$out/$arch/node-v$abi/notify.node"
  nodedir=$(headers_for "$suite")
  stub=$(stub_libsystemd "$arch")
  key=$(cat "$0" "$nodedir/include/node/node_version.h" | sha256sum | cut -c1-12)
  local cached="$CACHE/built/$arch-$abi-$key.node"
  if [ ! -f "$cached" ]; then
    log "building sd-notify for $arch, Node ABI $abi ($suite headers)"
    work=$(mktemp -d)
    cp -r "$src/." "$work/"
    (
      cd "$work"
      # Under `npm run`, npm exports its config (this machine's npmrc sets nodedir=/usr, the
      # running Node's headers) and node-gyp would build against that instead of --nodedir.
      while read -r var; do unset "$var"; done < <(compgen -e | grep -i '^npm_config_')
      export CC="$gnu-gcc" CXX="$gnu-g++" LINK="$gnu-g++" AR="$gnu-ar"
      # Debian's hardening defaults (dpkg-buildflags): fortified, stack-protected, full RELRO.
      export CC_target="$CC" CXX_target="$CXX"
      export CFLAGS="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2" CXXFLAGS="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2"
      export LDFLAGS="-L$stub -Wl,-z,relro -Wl,-z,now -Wl,--as-needed"
      node "$gyp" configure build --release --nodedir="$nodedir" --arch="${GYP_ARCH_OF[$arch]}" V=1 >build.log 2>&1 ||
        { cat build.log >&2; exit 1; }
      # A build against the wrong headers loads nowhere: prove the compiler saw ours.
      grep -q -- "-I$nodedir/include/node" build.log ||
        { echo "sd-notify for $arch was not compiled against $nodedir" >&2; grep -- ' -c ' build.log >&2; exit 1; }
    )
    mkdir -p "$CACHE/built"
    cp "$work/build/Release/notify.node" "$cached.tmp" && mv "$cached.tmp" "$cached"
    rm -rf "$work"
  fi
  mkdir -p "$(dirname "$target")"
  install -m 0644 "$cached" "$target"
  "$gnu-strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$target"
}

host_tools
src=$(source_tree)
gyp=$(node_gyp)
for suite in bookworm trixie; do headers_for "$suite" >/dev/null; done
# Two cores: build the arches side by side, the ABIs of one arch in turn.
pids=()
for arch in "${arches[@]}"; do
  (for suite in bookworm trixie; do build_one "$arch" "$suite" "$src" "$gyp"; done) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
install -D -m 0644 "$src/LICENSE" "$out/LICENSE.sd-notify"
for f in "$out"/*/node-v*/notify.node; do
  printf '%s: %s\n' "${f#"$out"/}" "$(file -b "$f" | cut -d, -f1-2)"
done
