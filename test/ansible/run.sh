#!/usr/bin/env bash
# End-to-end test of the Ansible role: ansible-playbook site.yml against a Debian root booted under
# systemd (systemd-nspawn), reached with the community.docker.nsenter connection, with a kubelet
# stand-in as kubelet.service. Prints PASS/FAIL per check and "N passed, N failed"; exits non-zero
# when a check failed.
#
# Needs root, debootstrap and systemd-container (installed from Debian 12 by e2e_host_tools), and
# ansible + ansible-lint from Debian 12 (installed here when missing).
#
#   RRN_ANSIBLE_SUITE   Debian release of the node (default trixie, Debian 13)
#   RRN_ANSIBLE_DEB_DIR directory holding an already built riscv-runner-node_*_amd64.deb to use
#                       instead of building one with npm run package:deb
#   RRN_ANSIBLE_KEEP=1  leave the work directory (logs, inventory) and print where it is
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$top/test/ansible"
# shellcheck source=../e2e/lib.sh
. "$top/test/e2e/lib.sh"

suite=${RRN_ANSIBLE_SUITE:-trixie}
name=rrn-ansible-$$
work=$(mktemp -d /tmp/rrn-ansible.XXXXXX)
root="$work/root"
logs="$work/logs"
mkdir -p "$logs"
E2E_STATE="$work/state"
passed=0
failed=0
run_no=0

pass() {
  passed=$((passed + 1))
  echo "PASS: $*"
}

fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

# check <description> <command…>: PASS when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# Stops the container and removes the work directory; also on an interrupted run.
cleanup() {
  trap - EXIT
  e2e_stop "$name" >/dev/null 2>&1
  if [ "${RRN_ANSIBLE_KEEP:-}" = 1 ]; then
    echo "work directory kept: $work"
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
  cleanup
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}

# Stops at once: nothing after this point can be checked.
abort() {
  fail "$*"
  finish
exit
  exit 1
}

if [ "$(id -u)" != 0 ]; then
  echo "test/ansible/run.sh: must run as root (it boots a systemd container)" >&2
  exit 1
fi

# --- the controller: Debian 12's ansible and ansible-lint --------------------------------------

e2e_stage "host tools" e2e_host_tools ansible ansible-lint || abort "install the host tools"
ansible-doc -t connection community.docker.nsenter >/dev/null 2>&1 ||
  abort "the community.docker.nsenter connection is not available in the installed ansible"
echo "controller: $(ansible --version | sed -n 1p), $(ansible-lint --version 2>/dev/null | sed -n 1p | sed 's/\x1b\[[0-9;]*m//g')"

export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_HOME="$work/ansible-home"
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
# Time per task in the logs, and the slowest tasks at the end of each.
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
# nsenter_pipelined (beside this script) is the collection's nsenter connection with pipelining,
# as over ssh to a board; the first install runs without it, so both ways of shipping a module work.
export ANSIBLE_CONNECTION_PLUGINS="$here/connection_plugins"

lint() {
  (cd "$top/ansible" && ansible-lint --offline --profile production >"$logs/ansible-lint.log" 2>&1)
}
check "ansible-lint (production profile) reports no violations in ansible/" lint ||
  tail -30 "$logs/ansible-lint.log"

# --- what goes on the node: the package and the kubelet stand-in --------------------------------

debdir="$work/deb"
standin="$work/kubelet-standin"
mkdir -p "$debdir" "$standin"

build_package() {
  local from=${RRN_ANSIBLE_DEB_DIR:-} deb
  if [ -z "$from" ]; then
    from="$top/build/deb"
    # amd64 only, and no lintian: the package's own tests check it; this one checks the role.
    (cd "$top" && RRN_SKIP_LINTIAN=1 npm run --silent package:deb -- amd64) >"$logs/package.log" 2>&1 || {
      tail -20 "$logs/package.log"
      return 1
    }
  fi
  deb=$(find "$from" -maxdepth 1 -name 'riscv-runner-node_*_amd64.deb' -printf '%T@ %p\n' 2>/dev/null |
    sort -n | tail -1 | cut -d' ' -f2-)
  [ -n "$deb" ] || {
    echo "no riscv-runner-node_*_amd64.deb in $from"
    return 1
  }
  cp "$deb" "$debdir/"
  echo "package: $(basename "$deb")"
}
e2e_stage "package" build_package || abort "build the .deb with npm run package:deb"

# The stand-ins as single files that the node's own nodejs runs, with the .proto beside them.
bundle_standin() {
  (cd "$top" && node test/e2e/bundle-fakes.mjs "$standin") >"$logs/bundle-fakes.log" 2>&1 || {
    tail -20 "$logs/bundle-fakes.log"
    return 1
  }
}
e2e_stage "kubelet stand-in" bundle_standin || abort "bundle the kubelet stand-in"

# --- the node: a Debian root booted under systemd ------------------------------------------------

make_node() {
  # sudo: site.yml becomes root the way it does on a board reached as an ordinary user.
  e2e_root "$suite" amd64 "$root" nodejs sudo || return
  mkdir -p "$root/opt/kubelet-standin"
  cp -r "$standin/." "$root/opt/kubelet-standin/"
  cat >"$root/etc/systemd/system/kubelet.service" <<'EOF'
[Unit]
Description=kubelet stand-in (device plugin registration only)

[Service]
ExecStartPre=/bin/mkdir -p /var/lib/kubelet/device-plugins
ExecStart=/usr/bin/node /opt/kubelet-standin/kubelet.mjs --dir /var/lib/kubelet/device-plugins --state /run/kubelet-standin/state.json
Restart=always

[Install]
WantedBy=multi-user.target
EOF
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf ../kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"
  echo rrn-ansible-node >"$root/etc/hostname"
}
e2e_stage "node root ($suite)" make_node || abort "make the $suite root"

boot_node() {
  e2e_boot "$root" "$name" >/dev/null && return 0
  # systemd may still be coming up when the first is-system-running asks: give it a while longer.
  local i state
  for i in $(seq 1 60); do
    state=$(e2e_exec "$name" systemctl is-system-running 2>/dev/null)
    case "$state" in running | degraded) return 0 ;; esac
    sleep 1
  done
  return 1
}
e2e_stage "boot" boot_node || abort "boot the $suite container"
pid=$(e2e_pid "$name")
node() { e2e_exec "$name" "$@"; }

wait_for() {
  local seconds=$1 i
  shift
  for i in $(seq 1 $((seconds * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
wait_for 30 node test -S /var/lib/kubelet/device-plugins/kubelet.sock || abort "kubelet stand-in listening in the container"

# --- inventory and helpers ---------------------------------------------------------------------

token="rrn-test-token-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
other_token="rrn-test-token-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
extra_distribution=""
if [ "$suite" = bookworm ]; then
  # Debian 12 is not a release the package supports; its nodejs is 18.19, the floor, so it runs.
  extra_distribution='
        - {name: Debian, version: "12"}'
fi
cat >"$work/inventory.yml" <<EOF
riscv_runners:
  hosts:
    rrn-ansible-node:
      ansible_connection: nsenter_pipelined
      ansible_pipelining: true
      ansible_nsenter_pid: $pid
      ansible_python_interpreter: /usr/bin/python3
      riscv_runner_node_deb_dir: $debdir
      riscv_runner_node_supported_distributions:
        - {name: Debian, version: "13"}
        - {name: Ubuntu, version: "24.04"}$extra_distribution
EOF
# The labeller's credentials come from the role; nothing listens at the address, so it keeps
# retrying with backoff, which is enough for it to be active.
kubeconfig_for() {
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: https://127.0.0.1:9
      insecure-skip-tls-verify: true
users:
  - name: rise-node-labeller
    user:
      token: $1
contexts:
  - name: test
    context: {cluster: test, user: rise-node-labeller}
current-context: test
EOF
}
# write_vars <file> <token> [yaml line…]: the variables of one playbook run.
write_vars() {
  local file=$1 tok=$2
  shift 2
  {
    echo "riscv_runner_node_kubeconfig: |"
    kubeconfig_for "$tok" | sed 's/^/  /'
    local line
    for line in "$@"; do echo "$line"; done
  } >"$file"
}

# playbook <label> <vars file> [ansible-playbook option…]: runs site.yml; output in $logs/<n>-<label>.log.
last_log=""
playbook() {
  local label=$1 vars=$2
  shift 2
  run_no=$((run_no + 1))
  last_log="$logs/$(printf %02d "$run_no")-$label.log"
  local start end rc=0
  start=$(date +%s)
  (cd "$top/ansible" && ansible-playbook -i "$work/inventory.yml" site.yml -e "@$vars" "$@") >"$last_log" 2>&1 || rc=$?
  end=$(date +%s)
  echo "playbook $label: $((end - start)) s, exit $rc, $(recap | tr -s ' ')"
  return "$rc"
}
recap() {
  grep -E '^rrn-ansible-node +:' "$last_log" | tail -1 | sed 's/^rrn-ansible-node *: *//'
}
recap_changed() {
  recap | sed -n 's/.*changed=\([0-9]*\).*/\1/p'
}
show_log() {
  echo "--- last 40 lines of $(basename "$last_log")"
  tail -40 "$last_log"
  echo "---"
}
invocation() {
  node systemctl show -p InvocationID --value "$1"
}
ids() {
  echo "$(invocation rise-device-plugin.service) $(invocation rise-node-labeller.service)"
}
config_sum() {
  node sha256sum /etc/riscv-runner-node/config.yaml 2>/dev/null | cut -d' ' -f1
}
standin_state() {
  node cat /run/kubelet-standin/state.json 2>/dev/null
}
# resource_devices_are <resource> <count> <health>: the stand-in's latest device list for it.
resource_devices_are() {
  standin_state | python3 -c '
import json, sys
resource, want, health = sys.argv[1], int(sys.argv[2]), sys.argv[3]
devices = json.load(sys.stdin).get("devices", {}).get(resource, [])
sys.exit(0 if len(devices) == want and all(d.get("health") == health for d in devices) else 1)
' "$1" "$2" "$3"
}
# devices_are <count> <health>: the same for riseproject.com/runner.
devices_are() {
  resource_devices_are riseproject.com/runner "$1" "$2"
}
both_enabled_and_active() {
  local unit
  for unit in rise-device-plugin.service rise-node-labeller.service; do
    [ "$(node systemctl is-enabled "$unit")" = enabled ] && [ "$(node systemctl is-active "$unit")" = active ] || return 1
  done
}
log_lacks() {
  ! grep -qE "$1" "$last_log"
}
kubeconfig_has() {
  node cat /etc/riscv-runner-node/kubeconfig | grep -q "$1"
}
config_valid() {
  node riscv-runner-node check-config /etc/riscv-runner-node/config.yaml >/dev/null
}
# config_has <text…>: config.yaml on the node holds each text; config_lacks <regex>: none matches.
config_has() {
  local text
  for text in "$@"; do
    node grep -qF -- "$text" /etc/riscv-runner-node/config.yaml || return 1
  done
}
config_lacks() {
  ! node grep -qE -- "$1" /etc/riscv-runner-node/config.yaml
}
no_maintenance_flag() {
  ! node test -e /etc/riscv-runner-node/maintenance
}

# --- 1. --check on a fresh node, then a first run that installs and starts ----------------------

write_vars "$work/base.yml" "$token"
untouched() {
  ! node dpkg-query -W riscv-runner-node >/dev/null 2>&1 && ! node test -e /etc/riscv-runner-node
}
playbook fresh-check "$work/base.yml" --check --diff || show_log
check "--check --diff on a fresh node succeeds and shows no token" log_lacks "$token|^fatal:"
check "... and installs and writes nothing" untouched
if playbook install "$work/base.yml" -e ansible_pipelining=false; then pass "first run of site.yml succeeds"; else
  fail "first run of site.yml succeeds"
  show_log
  node journalctl -u rise-device-plugin -u rise-node-labeller --no-pager -n 30
  abort "nothing else can be checked without an installed node"
fi
check "rise-device-plugin and rise-node-labeller are enabled and active" both_enabled_and_active ||
  node systemctl status --no-pager rise-device-plugin rise-node-labeller | tail -30
check "the kubelet stand-in sees one Healthy riseproject.com/runner device" wait_for 20 devices_are 1 Healthy ||
  standin_state
check "the rendered config.yaml passes riscv-runner-node check-config on the node" config_valid
check "... and keeps the cpu label family on by default" config_has 'cpu: true'
mode=$(node stat -c '%a %U' /etc/riscv-runner-node/kubeconfig 2>/dev/null)
check "the labeller's kubeconfig is written with mode 0600, owned by root (got: $mode)" test "$mode" = "600 root"
check "the first run's output does not show the kubeconfig token" log_lacks "$token"

# --- 2. a second run changes nothing ------------------------------------------------------------

before=$(ids)
playbook again "$work/base.yml" || show_log
check "a second run reports changed=0" test "$(recap_changed)" = 0
after=$(ids)
if [ "$after" = "$before" ]; then pass "a second run restarts nothing"; else
  fail "a second run restarts nothing"
  # Say which unit restarted and why, so the failure can be understood from the CI log.
  echo "invocations before: $before; after: $after"
  node systemctl show -p NRestarts -p ExecMainStatus -p Result rise-device-plugin rise-node-labeller
  node journalctl -u rise-device-plugin -u rise-node-labeller --no-pager -n 60
fi

# --- 3. --check --diff on the configured node ---------------------------------------------------

playbook check-diff "$work/base.yml" --check --diff || show_log
check "--check --diff on a configured node reports changed=0" test "$(recap_changed)" = 0
check "--check --diff output does not show the kubeconfig token" log_lacks "$token"
write_vars "$work/new-token.yml" "$other_token"
playbook check-diff-new-token "$work/new-token.yml" --check --diff || show_log
check "--check --diff with a new kubeconfig reports that it would change" test "$(recap_changed)" -ge 1
check "--check --diff with a new kubeconfig shows neither token" log_lacks "$token|$other_token"
check "--check --diff left the kubeconfig on the node as it was" kubeconfig_has "$token"

# --- 4. a changed setting restarts or reloads only the service that reads it --------------------

# The process, not only the unit: a reload keeps MainPID, and systemd counts no restart.
dp_process() {
  local p
  for p in MainPID ExecMainPID NRestarts; do
    printf '%s=%s ' "$p" "$(node systemctl show -P "$p" rise-device-plugin.service)"
  done
}
dp_main_pid() {
  node systemctl show -P MainPID rise-device-plugin.service
}
# Logged on SIGHUP only: the plugin also rereads a config file it sees change, unasked.
reload_requests() {
  node journalctl -u rise-device-plugin.service --no-pager -o cat | grep -c 'reload requested: reading the config again'
}
more_reload_requests_than() {
  [ "$(reload_requests)" -gt "$1" ]
}
ran_handler() {
  grep -q "^RUNNING HANDLER \[riscv_runner_node : $1\]" "$last_log"
}
# reloads_only <label> <vars file>: rise-device-plugin is reloaded (same process, no restart)
# and rise-node-labeller is untouched.
reloads_only() {
  local label=$1 vars=$2 b a requests
  b="$(dp_process)$(ids)"
  requests=$(reload_requests)
  playbook "$label" "$vars" || {
    show_log
    return 1
  }
  a="$(dp_process)$(ids)"
  echo "  rise-device-plugin $a (InvocationIDs of both last)"
  [ "$a" = "$b" ] || {
    echo "  before: $b"
    return 1
  }
  ran_handler "Reload rise-device-plugin" || {
    echo "  the handler Reload rise-device-plugin did not run"
    return 1
  }
  ! ran_handler "Restart rise-device-plugin" || {
    echo "  the handler Restart rise-device-plugin ran too"
    return 1
  }
  wait_for 10 more_reload_requests_than "$requests" || {
    echo "  rise-device-plugin logged no reload request"
    node journalctl -u rise-device-plugin.service --no-pager -n 20
    return 1
  }
}
# A restart, and not a reload on top of it: a new process, and no Reload handler.
new_dp_process() {
  [ "$(dp_main_pid)" != "$1" ] && ! ran_handler "Reload rise-device-plugin"
}
# restarts_only <label> <vars file> <labeller|both>
restarts_only() {
  local label=$1 vars=$2 expect=$3 b a dp lb
  b=$(ids)
  playbook "$label" "$vars" || {
    show_log
    return 1
  }
  a=$(ids)
  [ "${b%% *}" != "${a%% *}" ] && dp=restarted || dp=kept
  [ "${b##* }" != "${a##* }" ] && lb=restarted || lb=kept
  echo "  rise-device-plugin $dp, rise-node-labeller $lb"
  case $expect in
    labeller) [ "$dp" = kept ] && [ "$lb" = restarted ] ;;
    both) [ "$dp" = restarted ] && [ "$lb" = restarted ] ;;
  esac
}
write_vars "$work/count2.yml" "$token" "riscv_runner_node_device_count: 2"
check "riscv_runner_node_device_count 1 → 2 reloads rise-device-plugin (same MainPID, no restart), labeller untouched" \
  reloads_only device-count "$work/count2.yml"
check "the kubelet stand-in then sees two Healthy devices" wait_for 20 devices_are 2 Healthy || standin_state
write_vars "$work/rediscover.yml" "$token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600"
check "riscv_runner_node_rediscover_seconds 300 → 600 restarts rise-node-labeller only" \
  restarts_only rediscover "$work/rediscover.yml" labeller
write_vars "$work/token2.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600"
check "a new riscv_runner_node_kubeconfig restarts rise-node-labeller only" restarts_only kubeconfig "$work/token2.yml" labeller
check "... and its output does not show either token" log_lacks "$token|$other_token"
write_vars "$work/debug.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug"
check "riscv_runner_node_log_level info → debug restarts both services" restarts_only log-level "$work/debug.yml" both
current="$work/debug.yml"

# --- 4b. the virtual and /dev sections reload the device plugin too -----------------------------

host=$(node hostname)
peer_lines=(
  "riscv_runner_node_virtual:"
  "  deviceMapping:"
  "    - hosts: [$host]"
  "      devices:"
  "        - {resourceName: example.com/widget, instanceID: \"0001\", env: {PORT: \"5025\"}}"
  "        - {resourceName: example.com/widget, instanceID: \"0002\", env: {PORT: \"5026\"}}"
  "riscv_runner_node_dev:"
  "  prefix: smarter-devices"
  "  devices:"
  "    - {devicematch: ^null\$, nummaxdevices: 2}"
)
write_vars "$work/peers.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" 'riscv_runner_node_allocate_env: {RUNNER_SCALE: "1e5", RUNNER_LABEL: "on"}' "${peer_lines[@]}"
check "riscv_runner_node_virtual and _dev reload rise-device-plugin (same MainPID, no restart), labeller untouched" \
  reloads_only peers "$work/peers.yml"
check "... config.yaml holds both widgets for $host and the /dev item" \
  config_has "- \"$host\"" 'instanceID: "0001"' 'instanceID: "0002"' 'devicematch: "^null$"'
check "... allocate_env values that YAML would read as a number or a bool stay quoted strings" \
  config_has 'RUNNER_SCALE: "1e5"' 'RUNNER_LABEL: "on"'
check "... the kubelet stand-in sees two Healthy example.com/widget devices" \
  wait_for 20 resource_devices_are example.com/widget 2 Healthy || standin_state
check "... and two Healthy smarter-devices/null shares" \
  wait_for 20 resource_devices_are smarter-devices/null 2 Healthy || standin_state
b=$(dp_process)
playbook peers-again "$work/peers.yml" || show_log
check "a second run with them reports changed=0" test "$(recap_changed)" = 0
check "... and leaves rise-device-plugin's process alone" test "$(dp_process)" = "$b"

# spookd's own file, which the operator keeps on the node: the role names it and leaves it be.
spookd_file=/etc/rrn-test/spookd.yaml
node mkdir -p /etc/rrn-test
printf '%s\n' "deviceMapping:" "  - hosts: [$host]" "    devices:" \
  '      - {resourceName: example.com/widget, instanceID: "0001", env: {PORT: "5025"}}' \
  '      - {resourceName: example.com/widget, instanceID: "0002", env: {PORT: "5026"}}' \
  '      - {resourceName: example.com/widget, instanceID: "0003", env: {PORT: "5027"}}' |
  node sh -c "cat >$spookd_file"
spookd_sum() {
  node sha256sum "$spookd_file" | cut -d' ' -f1
}
spookd_before=$(spookd_sum)
write_vars "$work/peers-file.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" "riscv_runner_node_virtual: {file: $spookd_file}" "${peer_lines[@]:6}"
check "riscv_runner_node_virtual: {file: $spookd_file} reloads rise-device-plugin too" \
  reloads_only peers-file "$work/peers-file.yml"
check "... config.yaml names the file" config_has "file: \"$spookd_file\""
check "... the plugin serves the file's three widgets" \
  wait_for 20 resource_devices_are example.com/widget 3 Healthy || standin_state
check "... and the role left the file as it was" test "$(spookd_sum)" = "$spookd_before"
check "removing both sections reloads rise-device-plugin as well" reloads_only peers-removed "$current"
check "... and config.yaml no longer has them" config_lacks '^  (virtual|dev):'
# The same restart of both turns metrics on: the plugin on TCP (a network drop-in) with a textfile,
# the labeller on its unix socket (no drop-in); going back turns them off and removes the drop-in.
textfile_dir=/var/lib/prometheus/node-exporter
node mkdir -p "$textfile_dir"
write_vars "$work/peers-info.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: info" "${peer_lines[@]}" \
  "riscv_runner_node_devicetree_nodes: [gpu, /soc/gpu@0]" "riscv_runner_node_label_families: {cpu: false}" \
  "riscv_runner_node_plugin_metrics: {listen: '127.0.0.1:9465', textfile: $textfile_dir/rise-device-plugin.prom}" \
  "riscv_runner_node_labeller_metrics: {listen: 'unix:/run/riscv-runner-node/rise-node-labeller/metrics.sock'}"
b=$(dp_main_pid)
check "riscv_runner_node_log_level debug → info with both sections and metrics added restarts both services" \
  restarts_only log-level-peers "$work/peers-info.yml" both
check "... config.yaml has the node name gpu, the path /soc/gpu@0 and the cpu family off" \
  config_has '- "gpu"' '- "/soc/gpu@0"' 'cpu: false'
check "... rise-device-plugin in a new process (MainPID $b before), and not reloaded on top" new_dp_process "$b"
# metrics_get <IP:PORT|unix:PATH> <path>: the HTTP status, a newline, the body, fetched on the node.
metrics_get() {
  node node -e '
const [target, path] = process.argv.slice(1);
const to = target.startsWith("unix:") ? { socketPath: target.slice(5) } : { host: target.split(":")[0], port: Number(target.split(":")[1]) };
require("http").get({ ...to, path }, (res) => {
  let body = "";
  res.on("data", (c) => (body += c));
  res.on("end", () => process.stdout.write(`${res.statusCode}\n${body}`));
}).on("error", (e) => { console.error(e.message); process.exit(1); });' "$1" "$2"
}
plugin_metrics_registered() {
  metrics_get 127.0.0.1:9465 /metrics 2>/dev/null | grep -qx 'rise_device_plugin_registered{resource="riseproject.com/runner"} 1'
}
labeller_health_waits() {
  local answer
  answer=$(metrics_get unix:/run/riscv-runner-node/rise-node-labeller/metrics.sock /healthz 2>/dev/null) || return 1
  [ "$(echo "$answer" | sed -n 1p)" = 503 ] && echo "$answer" | sed -n 2p | grep -q '(waiting for '
}
textfile_written() {
  node grep -qx 'rise_device_plugin_registered{resource="riseproject.com/runner"} 1' "$textfile_dir/rise-device-plugin.prom"
}
# plugin_network: the plugin's RestrictAddressFamilies/IPAddressAllow, each sorted (systemd shows
# IPAddressAllow=localhost as both loopback prefixes, and either list in an order it chooses).
plugin_network() {
  local p
  for p in RestrictAddressFamilies IPAddressAllow; do
    node systemctl show -P "$p" rise-device-plugin.service | tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' '
    [ "$p" = IPAddressAllow ] || printf /
  done
}
echo "  rise-device-plugin RestrictAddressFamilies/IPAddressAllow: $(plugin_network)"
check "... the plugin's drop-in gives it IP for its TCP port, localhost only" \
  test "$(plugin_network)" = "AF_INET AF_INET6 AF_UNIX /127.0.0.0/8 ::1/128 "
check "... the labeller's unix socket needs no drop-in" node test ! -e /etc/systemd/system/rise-node-labeller.service.d/riscv-runner-node-metrics.conf
check "... the plugin answers /metrics on 127.0.0.1:9465, registered" wait_for 20 plugin_metrics_registered
check "... and writes its textfile into $textfile_dir" wait_for 20 textfile_written
check "... the labeller's /healthz on its socket is 503 while it waits for the API server" wait_for 20 labeller_health_waits
check "... and back to debug without them restarts both again" restarts_only log-level-back "$current" both
check "... which removes the metrics drop-in: the plugin's unit is as shipped (unix sockets alone)" \
  test "$(plugin_network)" = "AF_UNIX /"

# --- 5. maintenance drains the board without a restart ------------------------------------------

write_vars "$work/maint-on.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" "riscv_runner_node_maintenance: true"
b=$(ids)
playbook maintenance-on "$work/maint-on.yml" || show_log
check "riscv_runner_node_maintenance: true creates /etc/riscv-runner-node/maintenance" node test -e /etc/riscv-runner-node/maintenance
check "... without restarting either service" test "$(ids)" = "$b"
check "... and the kubelet stand-in sees the devices turn Unhealthy" wait_for 20 devices_are 2 Unhealthy || standin_state
playbook maintenance-off "$current" || show_log
check "riscv_runner_node_maintenance: false removes the flag" no_maintenance_flag
check "... without restarting either service" test "$(ids)" = "$b"
check "... and the devices are Healthy again" wait_for 20 devices_are 2 Healthy || standin_state

# --- 5b. DRA: the driver on where chosen, the device plugin lets the runner go; off again ---------

dra_is() {
  [ "$(node systemctl is-enabled rise-dra-driver.service)/$(node systemctl is-active rise-dra-driver.service)" = "$1" ]
}
check "the package leaves rise-dra-driver disabled" dra_is disabled/inactive
write_vars "$work/dra-on.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" "riscv_runner_node_dra: true"
b=$(dp_process)
playbook dra-on "$work/dra-on.yml" || show_log
check "riscv_runner_node_dra: true enables and starts rise-dra-driver" dra_is enabled/active
check "... config.yaml gives the runner to DRA" config_has 'resources:' '    - "riseproject.com/runner"'
check "... rise-device-plugin reloaded (same process) and lets the runner go" test "$(dp_process)" = "$b"
check "... the kubelet stand-in sees no runner device any more" wait_for 20 devices_are 0 Healthy || standin_state
playbook dra-on-again "$work/dra-on.yml" || show_log
check "a second run with it reports changed=0" test "$(recap_changed)" = 0
# A setting the driver applies on reload: the same process keeps its registration.
dra_process() {
  printf 'MainPID=%s NRestarts=%s ' "$(node systemctl show -P MainPID rise-dra-driver.service)" "$(node systemctl show -P NRestarts rise-dra-driver.service)"
}
dra_reload_requests() {
  node journalctl -u rise-dra-driver.service --no-pager -o cat | grep -c 'reload requested: reading the config again'
}
dra_reloaded() {
  local b requests
  b=$(dra_process)
  requests=$(dra_reload_requests)
  playbook dra-count3 "$work/dra-count3.yml" || {
    show_log
    return 1
  }
  echo "  rise-dra-driver $(dra_process)(before: $b)"
  [ "$(dra_process)" = "$b" ] && ran_handler "Reload rise-dra-driver" && ! ran_handler "Restart rise-dra-driver" &&
    [ "$(dra_reload_requests)" -gt "$requests" ]
}
write_vars "$work/dra-count3.yml" "$other_token" "riscv_runner_node_device_count: 3" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" "riscv_runner_node_dra: true"
check "with DRA on, riscv_runner_node_device_count 2 → 3 reloads rise-dra-driver (same MainPID, no restart)" dra_reloaded
playbook dra-off "$current" || show_log
check "riscv_runner_node_dra: false stops and disables rise-dra-driver" dra_is disabled/inactive
check "... and the device plugin serves the runner again" wait_for 20 devices_are 2 Healthy || standin_state

# --- 6. k3s: the services follow another kubelet unit -------------------------------------------

# A unit named like k3s's agent; the kubelet stand-in stays in kubelet.service.
node sh -c 'printf "[Service]\nExecStart=/bin/sleep infinity\n" >/etc/systemd/system/k3s-agent.service && systemctl daemon-reload'
no_k3s_dropins() {
  ! node sh -c 'ls /etc/systemd/system/*.service.d/riscv-runner-node-*.conf' >/dev/null 2>&1
}
follows() {
  local unit=$1 service
  for service in rise-device-plugin.service rise-node-labeller.service; do
    node systemctl show -p PartOf --value "$service" | grep -qw "$unit" || return 1
    node systemctl show -p After --value "$service" | grep -qw "$unit" || return 1
    node systemctl show -p Wants --value "$unit" | grep -qw "$service" || return 1
  done
}
write_vars "$work/k3s.yml" "$other_token" "riscv_runner_node_device_count: 2" "riscv_runner_node_rediscover_seconds: 600" \
  "riscv_runner_node_log_level: debug" "riscv_runner_node_kubelet_unit: k3s-agent.service"
playbook k3s "$work/k3s.yml" || show_log
check "riscv_runner_node_kubelet_unit: k3s-agent.service makes both services part of, after and wanted by it" \
  follows k3s-agent.service
playbook k3s-again "$work/k3s.yml" || show_log
check "... and a second run with it reports changed=0" test "$(recap_changed)" = 0
playbook kubelet-again "$current" || show_log
check "back to kubelet.service: the k3s drop-ins are gone" no_k3s_dropins
check "... and both services are active" both_enabled_and_active
node sh -c 'rm /etc/systemd/system/k3s-agent.service && systemctl daemon-reload'

# --- 7. a wrong variable fails in preflight, before any change ----------------------------------

# rejected <label> <variable> <vars file>: the run fails in a preflight check naming the variable
# and leaves config.yaml and both services as they were.
rejected() {
  local label=$1 variable=$2 vars=$3 b sum
  b=$(ids)
  sum=$(config_sum)
  if playbook "$label" "$vars"; then
    echo "  the run succeeded"
    return 1
  fi
  grep -qE "^(fatal|failed): .*$variable" "$last_log" || {
    echo "  no failure message naming $variable"
    show_log
    return 1
  }
  grep -qE "^TASK \[riscv_runner_node : (Write|Install|Copy|Enable|Create|Put|Take|Remove)" "$last_log" && {
    echo "  the run got past the preflight"
    show_log
    return 1
  }
  [ "$(recap_changed)" = 0 ] && [ "$(config_sum)" = "$sum" ] && [ "$(ids)" = "$b" ]
}
write_vars "$work/count0.yml" "$other_token" "riscv_runner_node_device_count: 0"
check "riscv_runner_node_device_count: 0 fails in preflight naming the variable, node unchanged" \
  rejected device-count-0 riscv_runner_node_device_count "$work/count0.yml"
grep -m1 -o 'riscv_runner_node_device_count is 0[^"]*' "$last_log" | head -1 | sed 's/^/  message: /'
write_vars "$work/space.yml" "$other_token" 'riscv_runner_node_resource_name: "riseproject.com/my runner"'
check "riscv_runner_node_resource_name with a space fails in preflight naming the variable, node unchanged" \
  rejected resource-name riscv_runner_node_resource_name "$work/space.yml"
write_vars "$work/board.yml" "$other_token" 'riscv_runner_node_board_map: {"sophgo,mango": "Pioneer board"}'
check "an invalid riscv_runner_node_board_map label value fails in preflight, node unchanged" \
  rejected board-map riscv_runner_node_board_map "$work/board.yml"
write_vars "$work/no-k3s.yml" "$other_token" "riscv_runner_node_kubelet_unit: k3s-agent.service"
check "a kubelet unit that is not installed fails in preflight naming it, node unchanged" \
  rejected kubelet-unit riscv_runner_node_kubelet_unit "$work/no-k3s.yml"
write_vars "$work/no-spookd.yml" "$other_token" "riscv_runner_node_virtual: {file: /etc/rrn-test/missing.yaml}"
check "a riscv_runner_node_virtual.file that is not on the node fails in preflight naming it, node unchanged" \
  rejected no-spookd-file riscv_runner_node_virtual.file "$work/no-spookd.yml"
write_vars "$work/dt-path.yml" "$other_token" 'riscv_runner_node_devicetree_nodes: ["/soc/../gpu"]'
check "a riscv_runner_node_devicetree_nodes path with .. fails in preflight, node unchanged" \
  rejected devicetree-nodes riscv_runner_node_devicetree_nodes "$work/dt-path.yml"
write_vars "$work/metrics-path.yml" "$other_token" "riscv_runner_node_plugin_metrics: {listen: 'unix:/var/run/plugin.sock'}"
check "a metrics socket outside the unit's directory fails in preflight naming riscv_runner_node_plugin_metrics, node unchanged" \
  rejected metrics-path riscv_runner_node_plugin_metrics "$work/metrics-path.yml"
echo 'riscv_runner_node_device_count: 2' >"$work/no-credentials.yml"
check "no kubeconfig and no kubelet credentials fails in preflight naming riscv_runner_node_kubeconfig, node unchanged" \
  rejected no-credentials riscv_runner_node_kubeconfig "$work/no-credentials.yml"

finish
exit
