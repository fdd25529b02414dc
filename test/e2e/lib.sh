# shellcheck shell=bash
# Debian roots made with debootstrap, booted under real systemd with systemd-nspawn, for end-to-end tests.
#
# Source it from bash (`. test/e2e/lib.sh`); every function runs as root and stops the caller's
# script on failure only through its exit status (nothing here calls `exit`).
#
#   e2e_host_tools [extra-package…]
#       Installs the host tools from Debian 12 (apt-get -t bookworm): debootstrap, systemd-container,
#       qemu-user-static, lintian, zstd, plus any extra packages named. Runs `apt-get update` (once
#       per process) only when something is missing. Never installs anything from Debian 13 on the host.
#   e2e_binfmt_riscv64
#       Mounts binfmt_misc if needed and registers qemu-riscv64 (flag F: the interpreter is opened
#       at registration, so it works inside roots that do not contain it). The host has no systemd
#       to do this. Idempotent.
#   e2e_root <suite> <arch> <dir> [extra-package…]
#       Makes <dir> a minimal Debian root (suite: trixie or bookworm; arch: amd64 or riscv64) with
#       systemd, dbus, python3, ca-certificates and the extra packages. Foreign arches use
#       `debootstrap --foreign` and a second stage under qemu-user-static. Extra packages are
#       installed with apt-get onto the plain root, which is made (and kept) first, so the stages
#       that want different packages share one debootstrap. The finished root is kept
#       as a tarball under $E2E_CACHE (default /var/cache/riscv-runner-node-e2e), keyed by suite,
#       arch and package list, so a second run only unpacks it; delete the folder to start over.
#       <dir> is emptied first.
#   e2e_root_cache <suite> <arch> [extra-package…]
#       Makes sure the cached tarball of that root exists (building it in a scratch folder if not),
#       without unpacking it anywhere: run it in the background to have a root ready for later.
#   e2e_boot <root> <name> [systemd-nspawn option…]
#       Boots <root> with `systemd-nspawn -b --register=no --keep-unit` in the background and waits
#       until systemd inside has finished starting (is-system-running: running or degraded). Sets
#       E2E_PID to the host PID of the container's systemd (PID 1 inside) and prints it. The
#       container shares the host's network. Console output goes to $E2E_STATE/<name>.console.
#   e2e_pid <name>
#       Prints the host PID of the container's systemd.
#   e2e_exec <name> <command…>
#       Runs a command inside the booted container (nsenter into all its namespaces) with a clean
#       environment; stdin, stdout, stderr and the exit status pass through.
#   e2e_stop <name>
#       Powers the container off and waits for it (up to 30 s), then kills systemd-nspawn if it is
#       still there. Safe to call twice.
#   e2e_chroot <root> <command…>
#       Runs a command in <root> without booting it: a private mount namespace with /proc, /sys,
#       /dev and /dev/pts mounted, the host's resolv.conf copied in; the mounts vanish with the
#       namespace.
#   e2e_stage <label> <command…>
#       Runs a command and prints "stage <label>: <seconds> s (ok|failed)"; returns its status.
#   e2e_log <text…>
#       Prints "[e2e hh:mm:ss] text" on stderr.
#   e2e_exposure_score
#       Reads `systemd-analyze security` output on stdin and prints the overall exposure (e.g. 1.2);
#       prints nothing when the output has none.
#   e2e_at_most <value> <limit>
#       Succeeds when the number <value> is at most <limit>; an empty <value> fails.
#
# Variables (set them before sourcing or before the call):
#   E2E_CACHE   where root tarballs are kept (default /var/cache/riscv-runner-node-e2e)
#   E2E_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   E2E_STATE   PID files and console logs of booted containers (default /run/riscv-runner-node-e2e)

: "${E2E_CACHE:=/var/cache/riscv-runner-node-e2e}"
: "${E2E_MIRROR:=http://deb.debian.org/debian}"
: "${E2E_STATE:=/run/riscv-runner-node-e2e}"
E2E_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

e2e_log() {
  printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

e2e_exposure_score() {
  sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}

e2e_at_most() {
  [ -n "$1" ] && awk -v v="$1" -v limit="$2" 'BEGIN { exit !(v <= limit) }'
}

e2e_stage() {
  local label=$1 start end rc=0
  shift
  start=$(date +%s.%N)
  "$@" || rc=$?
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" -v r="$rc" \
    'BEGIN { printf "stage %s: %.1f s (%s)\n", l, e - s, (r == 0 ? "ok" : "failed, status " r) }'
  return "$rc"
}

# apt-get on the host: waits for a dpkg lock held by another install instead of failing.
_e2e_apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q "$@"
}

e2e_host_tools() {
  local want=(debootstrap systemd-container qemu-user-static lintian zstd "$@") missing=() p i
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" = 0 ] && return 0
  if [ -z "${_E2E_APT_UPDATED:-}" ]; then
    # The lists lock has no timeout option: another apt-get update holds it for a while at most.
    for i in $(seq 1 30); do
      _e2e_apt update >/dev/null 2>&1 && break
      [ "$i" = 30 ] && { _e2e_apt update >/dev/null; return; }
      sleep 5
    done
    _E2E_APT_UPDATED=1
  fi
  e2e_log "installing host tools: ${missing[*]}"
  _e2e_apt -t bookworm install -y --no-install-recommends "${missing[@]}" >/dev/null
}

e2e_binfmt_riscv64() {
  local dir=/proc/sys/fs/binfmt_misc
  [ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir" || return
  if [ -e "$dir/qemu-riscv64" ]; then
    grep -q '^enabled' "$dir/qemu-riscv64" && return 0
    echo 1 >"$dir/qemu-riscv64"
    return
  fi
  [ -x /usr/bin/qemu-riscv64-static ] || { e2e_log "qemu-riscv64-static missing: run e2e_host_tools"; return 1; }
  # ELF class 64, little endian, e_machine 0xf3 (RISC-V); the same magic and mask as Debian's qemu-user-static.
  printf '%s' ':qemu-riscv64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-riscv64-static:FC' >"$dir/register"
}

_e2e_host_arch() {
  dpkg --print-architecture
}

_e2e_include() {
  local include=systemd,systemd-sysv,dbus,python3,ca-certificates extra
  for extra in "$@"; do include+=",$extra"; done
  echo "$include"
}

_e2e_tarball() {
  local suite=$1 arch=$2 include=$3 key
  key=$(printf '%s %s %s %s' "$suite" "$arch" "$include" "$E2E_MIRROR" | sha256sum | cut -c1-12)
  echo "$E2E_CACHE/$suite-$arch-$key.tar.zst"
}

e2e_root_cache() {
  local suite=$1 arch=$2 include tmp rc=0
  shift 2
  include=$(_e2e_include "$@")
  [ -s "$(_e2e_tarball "$suite" "$arch" "$include")" ] && return 0
  mkdir -p "$E2E_CACHE" || return
  tmp=$(mktemp -d "$E2E_CACHE/build.XXXXXX") || return
  e2e_root "$suite" "$arch" "$tmp/root" "$@" || rc=$?
  rm -rf --one-file-system "$tmp"
  return "$rc"
}

e2e_root() {
  local suite=$1 arch=$2 dir=$3
  shift 3
  local include tarball
  include=$(_e2e_include "$@")
  tarball=$(_e2e_tarball "$suite" "$arch" "$include")
  mkdir -p "$E2E_CACHE" || return
  # One builder per tarball: a second caller waits, then unpacks what the first made.
  (
    flock 9 || exit 1
    if [ ! -s "$tarball" ] && [ "$#" -gt 0 ]; then
      # Extra packages go onto the plain root of the same suite and arch (made first if needed,
      # and kept), installed with apt: one debootstrap per suite and arch serves every stage.
      e2e_log "$suite $arch root with $* (no cached root $tarball): the plain root, then apt-get install"
      e2e_root "$suite" "$arch" "$dir" || exit 1
      _e2e_apt_install "$dir" "$@" || exit 1
      tar --numeric-owner -C "$dir" -cpf - . | zstd -q -T0 -3 -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
    elif [ ! -s "$tarball" ]; then
      e2e_log "debootstrap $suite $arch into $dir (no cached root $tarball)"
      _e2e_debootstrap "$suite" "$arch" "$dir" "$include" || exit 1
      tar --numeric-owner -C "$dir" -cpf - . | zstd -q -T0 -3 -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
    else
      e2e_log "unpacking cached root $tarball into $dir"
      _e2e_empty_dir "$dir" || exit 1
      zstd -q -dc "$tarball" | tar --numeric-owner -C "$dir" -xpf -
    fi
  ) 9>"$tarball.lock"
}

# As debootstrap --include installs: no recommended packages, nothing downloaded kept.
_e2e_apt_install() {
  local dir=$1
  shift
  e2e_chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$dir.apt.log" 2>&1 || {
    tail -20 "$dir.apt.log" >&2
    return 1
  }
  # apt's binary caches too (86 MB): apt makes them again when it needs them.
  rm -f "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir.apt.log"
}

_e2e_empty_dir() {
  local dir=$1
  if [ -d "$dir" ]; then
    # A root can hold mount points left by an interrupted run: never delete through them.
    if findmnt -rno TARGET | grep -q "^$(realpath "$dir")/"; then
      e2e_log "$dir still has mounts below it; unmount them first"
      return 1
    fi
    rm -rf --one-file-system "$dir"
  fi
  mkdir -p "$dir"
}

_e2e_debootstrap() {
  local suite=$1 arch=$2 dir=$3 include=$4
  _e2e_empty_dir "$dir" || return
  local opts=(--variant=minbase --arch="$arch" --include="$include" --components=main)
  if [ "$arch" = "$(_e2e_host_arch)" ]; then
    debootstrap "${opts[@]}" "$suite" "$dir" "$E2E_MIRROR" >"$dir.debootstrap.log" 2>&1 || {
      tail -20 "$dir.debootstrap.log" >&2
      return 1
    }
  else
    [ "$arch" = riscv64 ] && { e2e_binfmt_riscv64 || return; }
    debootstrap --foreign "${opts[@]}" "$suite" "$dir" "$E2E_MIRROR" >"$dir.debootstrap.log" 2>&1 || {
      tail -20 "$dir.debootstrap.log" >&2
      return 1
    }
    e2e_log "debootstrap second stage ($arch, emulated)"
    e2e_chroot "$dir" /debootstrap/debootstrap --second-stage >>"$dir.debootstrap.log" 2>&1 || {
      tail -20 "$dir.debootstrap.log" >&2
      return 1
    }
  fi
  printf 'deb %s %s main\n' "$E2E_MIRROR" "$suite" >"$dir/etc/apt/sources.list"
  echo "e2e-$suite-$arch" >"$dir/etc/hostname"
  # An empty machine-id: systemd makes a fresh one at every boot of a copy.
  : >"$dir/etc/machine-id"
  # Keep apt's lists (an apt install works at once) but not the downloaded packages.
  rm -f "$dir"/var/cache/apt/archives/*.deb
  rm -f "$dir.debootstrap.log"
}

e2e_chroot() {
  local root=$1
  shift
  [ -e /etc/resolv.conf ] && cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
  unshare --mount --propagation private -- /bin/sh -ec '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/run"
    mkdir -p "$root/run/lock"
    exec chroot "$root" /usr/bin/env -i PATH="$0" HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
  ' "$E2E_PATH" "$root" "$@"
}

_e2e_descendants() {
  local pid=$1 child
  for child in $(pgrep -P "$pid"); do
    echo "$child"
    _e2e_descendants "$child"
  done
}

e2e_boot() {
  local root=$1 name=$2
  shift 2
  mkdir -p "$E2E_STATE"
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$root" -b --register=no --keep-unit \
    --machine="$name" "$@" </dev/null >"$E2E_STATE/$name.console" 2>&1 &
  local nspawn=$! pid="" i
  echo "$nspawn" >"$E2E_STATE/$name.nspawn"
  for i in $(seq 1 100); do
    for pid in $(_e2e_descendants "$nspawn"); do
      [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && break 2
    done
    pid=""
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$pid" ]; then
    e2e_log "container $name did not start; console:"
    tail -30 "$E2E_STATE/$name.console" >&2
    return 1
  fi
  echo "$pid" >"$E2E_STATE/$name.pid"
  E2E_PID=$pid
  # Until its bus is up, systemctl cannot even ask: poll rather than rely on --wait alone.
  local state="" deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(nsenter -t "$pid" -a -- /usr/bin/env -i PATH="$E2E_PATH" systemctl is-system-running 2>/dev/null)
    case "$state" in
      running | degraded)
        echo "$pid"
        return 0
        ;;
    esac
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.1
  done
  e2e_log "container $name: systemd state '$state'; console:"
  tail -30 "$E2E_STATE/$name.console" >&2
  return 1
}

e2e_pid() {
  cat "$E2E_STATE/$1.pid"
}

e2e_exec() {
  local name=$1 pid
  shift
  pid=$(e2e_pid "$name") || return
  nsenter -t "$pid" -a -- /usr/bin/env -i PATH="$E2E_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= "$@"
}

e2e_stop() {
  local name=$1 nspawn i
  nspawn=$(cat "$E2E_STATE/$name.nspawn" 2>/dev/null) || return 0
  if kill -0 "$nspawn" 2>/dev/null; then
    e2e_exec "$name" systemctl poweroff --no-block >/dev/null 2>&1 || kill -TERM "$nspawn" 2>/dev/null
    for i in $(seq 1 300); do
      kill -0 "$nspawn" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$nspawn" 2>/dev/null; then
      e2e_log "container $name did not power off in 30 s; killing systemd-nspawn $nspawn"
      kill -KILL "$nspawn" 2>/dev/null
    fi
  fi
  rm -f "$E2E_STATE/$name.nspawn" "$E2E_STATE/$name.pid"
}
