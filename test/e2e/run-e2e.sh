#!/bin/bash
# End-to-end test of the amd64 .deb under real systemd: a booted Debian 13 container, the kubelet
# stand-in as kubelet.service, the fake API server on the host's loopback.
#
# Usage: test/e2e/run-e2e.sh          (needs build/deb/riscv-runner-node_*_amd64.deb: npm run package:deb)
# Prints PASS/FAIL per check and "N passed, N failed"; exits non-zero on any failure.
# E2E_WORK (default /var/tmp/riscv-runner-node-e2e) holds the root; E2E_CACHE caches it between runs.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/e2e/lib.sh
. "$here/lib.sh"

WORK=${E2E_WORK:-/var/tmp/riscv-runner-node-e2e}
NAME=rrn-e2e
ROOT=$WORK/trixie-amd64
SHARE=$WORK/share
NODE=$NAME
passed=0
failed=0
api_pid=""
# Host processes a section started (the metrics section's Prometheus and node_exporter).
host_pids=()

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
# wait_for <seconds> <command…>: polls every 0.2 s until the command succeeds.
wait_for() {
  local deadline
  deadline=$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + t }')
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    awk -v d="$deadline" -v n="$(date +%s.%N)" 'BEGIN { exit !(n > d) }' && return 1
    sleep 0.2
  done
}
now() { date +%s.%N; }
since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }'; }

C() { e2e_exec "$NAME" "$@"; }
prop() { C systemctl show -P "$2" "$1"; }
is_active() { [ "$(prop "$1" ActiveState)" = active ]; }
kubelet_state() { C cat /run/fake-kubelet/state.json 2>/dev/null; }
# Registrations the running stand-in has seen, or -1 when it has none of ours with runner-0 Healthy.
healthy_registrations() {
  kubelet_state | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    print(-1); sys.exit()
regs = [r for r in s.get("registrations", []) if r.get("resourceName") == "riseproject.com/runner"]
devs = s.get("devices", {}).get("riseproject.com/runner", [])
ok = any(d.get("ID") == "runner-0" and d.get("health") == "Healthy" for d in devs)
print(len(regs) if regs and ok else -1)'
}
kubelet_pid() { kubelet_state | python3 -c 'import json,sys; print(json.load(sys.stdin).get("pid",""))' 2>/dev/null; }
registrations_at_least() { [ "$(healthy_registrations)" -ge "$1" ]; }
prop_is() { [ "$(prop "$1" "$2")" = "$3" ]; }
prop_not() { [ "$(prop "$1" "$2")" != "$3" ]; }
prop_gt() { [ "$(prop "$1" "$2")" -gt "$3" ]; }
kubelet_pid_not() { local p; p=$(kubelet_pid); [ -n "$p" ] && [ "$p" != "$1" ]; }
both_active() { is_active rise-device-plugin.service && is_active rise-node-labeller.service; }
journal_has() { C journalctl -q -u "$1" | grep -ci "$2" >/dev/null; }

cleanup() {
  e2e_stop "$NAME"
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
  local pid
  for pid in "${host_pids[@]}"; do kill "$pid" 2>/dev/null; done
  true
}
trap cleanup EXIT

t_all=$(now)
deb=$(ls -t "$top"/build/deb/riscv-runner-node_*_amd64.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  echo "no build/deb/riscv-runner-node_*_amd64.deb: run npm run package:deb first" >&2
  exit 2
fi
version=$(dpkg-deb -f "$deb" Version)
echo "package under test: $(basename "$deb")"

# Debian's Prometheus and node_exporter for the metrics section, with curl, and python3-jinja2 and
# python3-yaml to render the Ansible role's drop-in. Where systemd runs, the two packages start
# their own servers on :9090 and :9100 as they install; the section runs its own on free ports,
# so the ones this run installs are stopped and disabled again (a server that was there is left).
metrics_servers=()
for p in prometheus prometheus-node-exporter; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || metrics_servers+=("$p.service")
done
e2e_stage host-tools e2e_host_tools prometheus prometheus-node-exporter curl python3-jinja2 python3-yaml || exit 1
if [ "${#metrics_servers[@]}" -gt 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now "${metrics_servers[@]}" >/dev/null 2>&1 || true
fi
mkdir -p "$WORK"
if [ "${E2E_PREPARE_ROOTS:-1}" = 1 ]; then
  # The roots of test:riscv64 (about 5 minutes of emulated second stage) and test:node18 are built
  # meanwhile; those stages wait for them through the cache's lock.
  e2e_binfmt_riscv64 && (e2e_stage "root trixie-riscv64 (background)" e2e_root_cache trixie riscv64 >"$WORK/prepare-trixie-riscv64.log" 2>&1 &)
  (e2e_stage "root bookworm-amd64 (background)" e2e_root_cache bookworm amd64 >"$WORK/prepare-bookworm-amd64.log" 2>&1 &)
fi
e2e_stage root e2e_root trixie amd64 "$ROOT" || exit 1

# What the container sees under /opt/e2e: the packages, the stand-ins, the sample devicetree.
rm -rf "$SHARE"
mkdir -p "$SHARE/next"
cp "$deb" "$SHARE/"
# "A newer build": the same package with a higher version, as the next commit would make.
repack=$(mktemp -d)
dpkg-deb -R "$deb" "$repack/pkg"
sed -i "s/^Version: .*/Version: $version.1/" "$repack/pkg/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -b "$repack/pkg" "$SHARE/next/riscv-runner-node_${version}.1_amd64.deb" >/dev/null
rm -rf "$repack"
node "$here/bundle-fakes.mjs" "$SHARE/fakes" >/dev/null || exit 1
cp -r "$top/test/fixtures/roots/scw-em-rv1" "$SHARE/fixture"

echo "$NAME" >"$ROOT/etc/hostname"
# The kubelet stand-in's unit, put into the container only after the install: the package must
# install without a word on a host that has no kubelet.service (a k3s agent).
cat >"$SHARE/kubelet.service" <<'EOF'
[Unit]
Description=kubelet stand-in (records registrations in /run/fake-kubelet/state.json)

[Service]
ExecStart=/usr/bin/node /opt/e2e/fakes/kubelet.mjs --dir /var/lib/kubelet/device-plugins --state /run/fake-kubelet/state.json
Restart=always
RestartSec=1s
EOF

# The fake API server on the host's loopback; the container shares the host's network.
node "$SHARE/fakes/apiserver.mjs" --port 0 --host 127.0.0.1 --node "$NODE" --kubeconfig-out "$SHARE/kubeconfig" \
  --identity "system:node:$NODE" >"$WORK/apiserver.out" 2>&1 &
api_pid=$!
wait_for 10 grep -q '^http' "$WORK/apiserver.out" || { cat "$WORK/apiserver.out"; exit 1; }
api_url=$(grep -m1 '^http' "$WORK/apiserver.out")
api_token=$(sed -n 's/^ *token: //p' "$SHARE/kubeconfig")
# node_meta [labels|annotations]: the Node's labels (or annotations) as the API server stand-in
# holds them, as sorted JSON.
node_meta() {
  python3 - "$api_url" "$api_token" "$NODE" "${1:-labels}" <<'PY'
import json, sys, urllib.request
url, token, node, part = sys.argv[1:5]
req = urllib.request.Request(f"{url}/api/v1/nodes/{node}", headers={"Authorization": f"Bearer {token}"})
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=5))["metadata"].get(part, {}), sort_keys=True))
PY
}
node_labels() { node_meta labels; }
labels_have() { node_labels 2>/dev/null | grep -qF "$1"; }
# node_add_label <key> <value>: another actor's label, set with a merge patch.
node_add_label() {
  python3 - "$api_url" "$api_token" "$NODE" "$1" "$2" <<'PY'
import json, sys, urllib.request
url, token, node, key, value = sys.argv[1:6]
body = json.dumps({"metadata": {"labels": {key: value}}}).encode()
req = urllib.request.Request(f"{url}/api/v1/nodes/{node}", data=body, method="PATCH",
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"})
urllib.request.urlopen(req, timeout=5).read()
PY
}

t_boot=$(now)
# The sample devicetree where the kernel would put it: /sys/firmware is a tmpfs inside the container.
if ! e2e_boot "$ROOT" "$NAME" --bind-ro="$SHARE:/opt/e2e" --tmpfs=/sys/firmware:mode=0755 \
  --bind-ro="$SHARE/fixture/sys/firmware/devicetree:/sys/firmware/devicetree" >/dev/null; then
  fail "container boots"
  echo "$passed passed, $failed failed"
  exit 1
fi
echo "stage boot: $(since "$t_boot") s"
check "sample devicetree visible in the container" C test -s /sys/firmware/devicetree/base/compatible

# Credentials first, as the Ansible role does: the labeller finds /etc/riscv-runner-node/kubeconfig.
C install -d -m 0755 /etc/riscv-runner-node
C install -m 0600 /opt/e2e/kubeconfig /etc/riscv-runner-node/kubeconfig

# --- install -----------------------------------------------------------------------------------
t=$(now)
if C env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/opt/e2e/$(basename "$deb")" >"$WORK/apt-install.log" 2>&1; then
  pass "apt install ./$(basename "$deb") (with its nodejs) in $(since "$t") s"
else
  fail "apt install ./$(basename "$deb")"
  tail -20 "$WORK/apt-install.log"
fi
echo "installed: nodejs $(C dpkg-query -W -f='${Version}' nodejs), riscv-runner-node $(C dpkg-query -W -f='${Version}' riscv-runner-node)"

check "apt install on a host without kubelet.service: no line about a non-existent unit" \
  test -z "$(grep -i 'non-existent unit' "$WORK/apt-install.log")" || grep -i 'non-existent unit' "$WORK/apt-install.log"
check "units enabled for multi-user.target; the package's kubelet drop-in in place" \
  C test -L /etc/systemd/system/multi-user.target.wants/rise-device-plugin.service -a \
  -L /etc/systemd/system/multi-user.target.wants/rise-node-labeller.service -a \
  ! -e /etc/systemd/system/kubelet.service.wants -a \
  -f /usr/lib/systemd/system/kubelet.service.d/riscv-runner-node.conf
verify_out=$(C systemd-analyze verify rise-device-plugin.service rise-node-labeller.service 2>&1)
check "systemd-analyze verify is clean (trixie's systemd)" test -z "$verify_out" || echo "$verify_out"
for unit in rise-device-plugin rise-node-labeller; do
  score=$(C systemd-analyze security --offline=true --no-pager "/usr/lib/systemd/system/$unit.service" 2>/dev/null | e2e_exposure_score)
  check "systemd-analyze security $unit: exposure ${score:-?} <= 2.0" e2e_at_most "$score" 2.0
done

# --- a board that has not joined a cluster: no kubelet has ever run -----------------------------
check "no kubelet yet: plugin skipped by its condition, not failed" \
  test "$(prop rise-device-plugin.service ActiveState)/$(prop rise-device-plugin.service ConditionResult)" = "inactive/no"
t=$(now)
C timeout 30 systemctl start rise-device-plugin.service
start_rc=$?
check "no kubelet yet: systemctl start returns at once (status $start_rc in $(since "$t") s)" \
  awk -v s="$(since "$t")" -v r="$start_rc" 'BEGIN { exit !(r == 0 && s < 5) }'
sleep 3
check "no kubelet yet: no restarts, nothing failed in the journal" \
  test "$(prop rise-device-plugin.service NRestarts)" = 0 -a \
  -z "$(C journalctl -q -u rise-device-plugin.service | grep -Ei 'failed|scheduled restart')"
echo "  journal: $(C journalctl -q -u rise-device-plugin.service -o cat | tail -1)"
C systemctl status --no-pager rise-device-plugin.service | sed -n 's/^/  | /; /Active:\|Condition/,+1p'
check "labeller active without a kubelet" wait_for 15 is_active rise-node-labeller.service

# --- the board joins: kubeadm writes the kubelet's config, then starts it; its start pulls the
# plugin in before the kubelet has made its directory --------------------------------------------
C install -m 0644 /opt/e2e/kubelet.service /etc/systemd/system/kubelet.service
C systemctl daemon-reload
kubelet_wants() {
  local w
  w=$(prop kubelet.service Wants)
  grep -qw rise-device-plugin.service <<<"$w" && grep -qw rise-node-labeller.service <<<"$w"
}
check "kubelet.service, once there, wants both units (the package's drop-in)" kubelet_wants
C install -D -m 0644 /dev/null /var/lib/kubelet/config.yaml
t=$(now)
C systemctl start kubelet.service
check "kubelet start pulls the plugin in: active" wait_for 20 is_active rise-device-plugin.service
check "stand-in saw riseproject.com/runner with runner-0 Healthy ($(since "$t") s after kubelet start)" \
  wait_for 20 registrations_at_least 1
status_line=$(C systemctl status --no-pager rise-device-plugin.service | sed -n 's/^ *Status: //p')
echo "  systemctl status rise-device-plugin: Status: $status_line"
check "systemctl status shows the registered status line" grep -q 'registered with kubelet: riseproject.com/runner' <<<"$status_line"
check "both units active" wait_for 10 both_active
check "sd-notify build loaded (no systemd-notify fallback warning)" \
  test -z "$(C journalctl -q -u rise-device-plugin.service -u rise-node-labeller.service | grep 'no sd-notify build')"

# --- kubelet restart --------------------------------------------------------------------------
inv=$(prop rise-device-plugin.service InvocationID)
kpid=$(kubelet_pid)
t=$(now)
C systemctl restart kubelet.service
check "restart kubelet: plugin unit restarted (new invocation)" \
  wait_for 20 prop_not rise-device-plugin.service InvocationID "$inv"
check "restart kubelet: re-registered with the new kubelet ($(since "$t") s)" \
  wait_for 20 kubelet_pid_not "$kpid"
check "restart kubelet: runner-0 Healthy again" wait_for 20 registrations_at_least 1
check "restart kubelet: plugin active" wait_for 20 is_active rise-device-plugin.service

# --- clean stop -------------------------------------------------------------------------------
t=$(now)
C systemctl stop rise-device-plugin.service
stop_s=$(since "$t")
check "SIGTERM: plugin stops cleanly within 5 s (took $stop_s s; result $(prop rise-device-plugin.service Result))" \
  awk -v s="$stop_s" -v r="$(prop rise-device-plugin.service Result)" 'BEGIN { exit !(s < 5 && r == "success") }'
check "SIGTERM: plugin socket removed" C test ! -e /var/lib/kubelet/device-plugins/rise-riscv-runner.sock
C systemctl start rise-device-plugin.service
check "started again, registered" wait_for 20 is_active rise-device-plugin.service

# --- SIGKILL ----------------------------------------------------------------------------------
before=$(healthy_registrations)
restarts=$(prop rise-device-plugin.service NRestarts)
t=$(now)
C systemctl kill -s KILL rise-device-plugin.service
check "SIGKILL: systemd restarts the plugin" \
  wait_for 20 prop_gt rise-device-plugin.service NRestarts "$restarts"
check "SIGKILL: re-registered ($(since "$t") s)" wait_for 20 registrations_at_least $((before + 1))
check "SIGKILL: active again" wait_for 20 is_active rise-device-plugin.service

# --- watchdog ---------------------------------------------------------------------------------
C mkdir -p /run/systemd/system/rise-device-plugin.service.d
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\n' | C tee /run/systemd/system/rise-device-plugin.service.d/e2e-watchdog.conf >/dev/null
C systemctl daemon-reload
C systemctl restart rise-device-plugin.service
wait_for 20 is_active rise-device-plugin.service
mainpid=$(prop rise-device-plugin.service MainPID)
restarts=$(prop rise-device-plugin.service NRestarts)
t=$(now)
# MainPID is 0 when the plugin is not running, and `kill -STOP 0` would stop this script's own
# process group (nsenter keeps it): send nothing then, and let the check fail.
if [ "${mainpid:-0}" -gt 1 ]; then C sh -c "kill -STOP $mainpid"; else echo "  no plugin process to stop (MainPID ${mainpid:-none})"; fi
check "watchdog: a hung plugin (SIGSTOP) is killed and restarted" \
  wait_for 30 prop_gt rise-device-plugin.service NRestarts "$restarts"
echo "  watchdog restart after $(since "$t") s (WatchdogSec=2s, TimeoutAbortSec=2s)"
check "watchdog: journal says so" journal_has rise-device-plugin.service 'watchdog timeout'
C rm -f /run/systemd/system/rise-device-plugin.service.d/e2e-watchdog.conf
C systemctl daemon-reload
C systemctl restart rise-device-plugin.service
check "watchdog: active again, registered" wait_for 20 is_active rise-device-plugin.service

# --- invalid configuration --------------------------------------------------------------------
C cp /etc/riscv-runner-node/config.yaml /root/config.yaml.orig
printf 'deviceplugin:\n  deviceCount: 0\n' | C tee /etc/riscv-runner-node/config.yaml >/dev/null
C systemctl restart rise-device-plugin.service
check "invalid config: unit failed" wait_for 20 prop_is rise-device-plugin.service ActiveState failed
check "invalid config: exit status 78" test "$(prop rise-device-plugin.service ExecMainStatus)" = 78
restarts=$(prop rise-device-plugin.service NRestarts)
sleep 6
check "invalid config: stays failed, no restart loop (NRestarts $restarts after 6 s)" \
  test "$(prop rise-device-plugin.service ActiveState)/$(prop rise-device-plugin.service NRestarts)" = "failed/$restarts"
echo "  journal: $(C journalctl -q -u rise-device-plugin.service -n 30 | grep -m1 'deviceCount')"
C cp /root/config.yaml.orig /etc/riscv-runner-node/config.yaml
C systemctl reset-failed rise-device-plugin.service
C systemctl start rise-device-plugin.service
check "fixed config: plugin active again" wait_for 20 is_active rise-device-plugin.service

# --- kubelet stopped but its directory there: the plugin waits -----------------------------------
C systemctl stop kubelet.service
check "kubelet stop stops the plugin too (PartOf)" \
  wait_for 10 prop_is rise-device-plugin.service ActiveState inactive
C systemctl start --no-block rise-device-plugin.service
sleep 2
waiting_status=$(prop rise-device-plugin.service StatusText)
echo "  with no kubelet listening: $(prop rise-device-plugin.service ActiveState), Status: $waiting_status"
check "kubelet down: plugin activating, status says it waits for kubelet" \
  test "$(prop rise-device-plugin.service ActiveState)" = activating -a -n "$(grep 'waiting for kubelet' <<<"$waiting_status")"
C systemctl start kubelet.service
check "kubelet back: plugin finishes starting and registers" wait_for 20 is_active rise-device-plugin.service

# --- node labeller ------------------------------------------------------------------------------
check "labeller labels the node from the sample devicetree (riseproject.dev/board=scw-em-rv1)" \
  wait_for 60 labels_have '"riseproject.dev/board": "scw-em-rv1"'
echo "  node labels: $(node_labels 2>/dev/null)"
labels_have '"riseproject.dev/board": "scw-em-rv1"' || C journalctl -q -u rise-node-labeller.service -n 15 --no-pager
echo "  systemctl status rise-node-labeller: Status: $(prop rise-node-labeller.service StatusText)"

# --- many resources, live reload, hotplug ------------------------------------------------------
# shellcheck source=test/e2e/resources.sh
. "$here/resources.sh"

# --- the DRA driver -----------------------------------------------------------------------------
# shellcheck source=test/e2e/dra.sh
. "$here/dra.sh"

# --- metrics: Prometheus and node_exporter read both daemons --------------------------------------
# shellcheck source=test/e2e/metrics.sh
. "$here/metrics.sh"

# --- upgrade ----------------------------------------------------------------------------------
inv_plugin=$(prop rise-device-plugin.service InvocationID)
inv_labeller=$(prop rise-node-labeller.service InvocationID)
t=$(now)
if C env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/opt/e2e/next/riscv-runner-node_${version}.1_amd64.deb" >"$WORK/apt-upgrade.log" 2>&1; then
  pass "upgrade to $version.1 in $(since "$t") s"
else
  fail "upgrade to $version.1"
  tail -20 "$WORK/apt-upgrade.log"
fi
check "upgrade: plugin restarted" wait_for 20 prop_not rise-device-plugin.service InvocationID "$inv_plugin"
check "upgrade: labeller restarted" wait_for 20 prop_not rise-node-labeller.service InvocationID "$inv_labeller"
check "upgrade: both active" wait_for 20 both_active

# --- purge ------------------------------------------------------------------------------------
owned_labels_gone() {
  local labels annotations
  labels=$(node_meta labels) && annotations=$(node_meta annotations) || return 1
  ! grep -q 'riseproject.dev/' <<<"$labels$annotations" &&
    grep -qF '"team/owner": "ci"' <<<"$labels" && grep -qF "\"kubernetes.io/hostname\": \"$NODE\"" <<<"$labels"
}
node_add_label team/owner ci
check "before purge: the labeller's labels, its annotation and a foreign label on the Node" \
  grep -q 'riseproject.dev/labeller.owned-labels' <<<"$(node_meta annotations 2>/dev/null)"
echo "  node labels: $(node_labels 2>/dev/null)"
t=$(now)
if C env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q riscv-runner-node >"$WORK/apt-purge.log" 2>&1; then
  pass "apt purge riscv-runner-node ($(since "$t") s)"
else
  fail "apt purge riscv-runner-node"
  tail -20 "$WORK/apt-purge.log"
fi
echo "  apt: $(grep -m1 "^node $NODE" "$WORK/apt-purge.log")"
check "purge: owned labels and the annotation gone from the Node, foreign labels kept" owned_labels_gone
echo "  node labels: $(node_labels 2>/dev/null); annotations: $(node_meta annotations 2>/dev/null)"
check "purge: units and the kubelet drop-in gone" \
  C sh -c '! ls /usr/lib/systemd/system/rise-* /etc/systemd/system/*/rise-* /usr/lib/systemd/system/kubelet.service.d/riscv-runner-node.conf 2>/dev/null'
check "purge: /etc/riscv-runner-node gone" C test ! -e /etc/riscv-runner-node
check "purge: plugin socket gone" C test ! -e /var/lib/kubelet/device-plugins/rise-riscv-runner.sock
check "purge: DRA driver sockets and its state gone" C test ! -e /var/lib/kubelet/plugins_registry/runner.riseproject.dev-reg.sock -a ! -e /var/lib/riscv-runner-node/dra
check "purge: no daemon left running" C sh -c 'for p in /proc/[0-9]*; do grep -qa "riscv-runner-node/[c]li.js" "$p/cmdline" 2>/dev/null && exit 1; done; exit 0'

# --- purge with the API server down -------------------------------------------------------------
C install -d -m 0755 /etc/riscv-runner-node
C install -m 0600 /opt/e2e/kubeconfig /etc/riscv-runner-node/kubeconfig
if C env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/opt/e2e/$(basename "$deb")" >"$WORK/apt-reinstall.log" 2>&1; then
  pass "installed again after the purge"
else
  fail "installed again after the purge"
  tail -20 "$WORK/apt-reinstall.log"
fi
check "labeller labels the node again" wait_for 60 labels_have '"riseproject.dev/board": "scw-em-rv1"'
kill "$api_pid" 2>/dev/null
wait "$api_pid" 2>/dev/null
api_pid=""
t=$(now)
C env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q riscv-runner-node >"$WORK/apt-purge-offline.log" 2>&1
purge_rc=$?
purge_s=$(since "$t")
check "purge with the API server down succeeds within 10 s (status $purge_rc in $purge_s s)" \
  awk -v s="$purge_s" -v r="$purge_rc" 'BEGIN { exit !(r == 0 && s < 10) }'
echo "  apt: $(grep -m1 'unlabel: ' "$WORK/apt-purge-offline.log")"
check "purge with the API server down: says the labels stay and how to remove them" \
  grep -q "unlabel: failed to remove the node labeller's labels from node $NODE.*kubectl label node" "$WORK/apt-purge-offline.log"
check "purge with the API server down: /etc/riscv-runner-node and the package's state gone" \
  C test ! -e /etc/riscv-runner-node -a ! -e /var/lib/riscv-runner-node

echo "stage e2e total: $(since "$t_all") s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
