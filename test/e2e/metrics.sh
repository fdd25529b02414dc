# shellcheck shell=bash
# Sourced by run-e2e.sh: both daemons' metrics under the container's systemd, with the drop-ins the
# Ansible role writes, scraped by Debian's Prometheus and read by Debian's node_exporter, both run
# on the host's loopback (the container shares the host's network, and $ROOT is its root).
# Uses run-e2e.sh's C, check, wait_for, prop, both_active, now, since, host_pids, top,
# ROOT, NODE, WORK, and res_field and runner_alone from resources.sh.

t_metrics=$(now)
PLUGIN=rise-device-plugin.service
LABELLER=rise-node-labeller.service
TEXTFILE_DIR=/var/lib/prometheus/node-exporter
PLUGIN_TEXTFILE=$TEXTFILE_DIR/rise-device-plugin.prom
LABELLER_TEXTFILE=$TEXTFILE_DIR/rise-node-labeller.prom
DROPIN=riscv-runner-node-metrics.conf
# Ports nothing listens on now, none of them Prometheus's 9090 or node_exporter's 9100.
read -r plugin_port labeller_port prom_port exporter_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
prom_url=http://127.0.0.1:$prom_port
exporter_url=http://127.0.0.1:$exporter_port

# metrics_dropin <service> <listen> <textfile> <network: true|false>: the role's metrics.conf.j2 as
# the role renders it for that service (trim_blocks, as Ansible's template module), with the
# role's defaults; the few Ansible filters it uses are defined here. StrictUndefined: a variable
# the template gains and this does not give fails here rather than rendering empty. Debian's
# /usr/bin/python3, for python3-jinja2 and python3-yaml (e2e_host_tools installs them).
metrics_dropin() {
  /usr/bin/python3 - "$top/ansible/roles/riscv_runner_node" "$@" <<'PY'
import os, sys
import jinja2, yaml
role, service, listen, textfile, network = sys.argv[1:6]
with open(os.path.join(role, "defaults/main.yml")) as f:
    defaults = yaml.safe_load(f)
env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(role, "templates")),
                         trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
env.filters["comment"] = lambda text: "#\n" + "".join(f"# {line}\n" for line in text.splitlines()) + "#"
env.filters["bool"] = lambda v: v is True or str(v).lower() in ("yes", "on", "1", "true")
env.filters["dirname"] = os.path.dirname
item = {"service": service, "metrics": {"listen": listen, "textfile": textfile}, "network": network}
sys.stdout.write(env.get_template("metrics.conf.j2").render(defaults, ansible_managed="Ansible managed", item=item))
PY
}
# http_code <url>: the HTTP status of a GET (000 when nothing answers).
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"; }
healthz_ok() { [ "$(http_code "http://127.0.0.1:$1/healthz")" = 200 ]; }
# prom_value <PromQL>: the value of the query's only series, empty when it has none or several.
prom_value() {
  python3 - "$prom_url" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url, query = sys.argv[1:3]
answer = json.load(urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query}), timeout=5))
result = answer["data"]["result"]
print(result[0]["value"][1] if len(result) == 1 else "")
PY
}
# prom_targets: "job=health" of every active target, sorted.
prom_targets() {
  python3 - "$prom_url" <<'PY'
import json, sys, urllib.request
targets = json.load(urllib.request.urlopen(f"{sys.argv[1]}/api/v1/targets", timeout=5))["data"]["activeTargets"]
print(" ".join(sorted(f'{t["labels"]["job"]}={t["health"]}' for t in targets)))
PY
}
targets_up() { [ "$(prom_targets 2>/dev/null)" = "rise-device-plugin=up rise-node-labeller=up" ]; }

metrics_base_config=$(C cat /etc/riscv-runner-node/config.yaml)
made_prometheus_dir=no
C test -e /var/lib/prometheus || made_prometheus_dir=yes
C install -d -m 0755 "$TEXTFILE_DIR"

# --- the host's node_exporter and Prometheus: plain processes, started while the units restart ----
rm -rf "$WORK/prometheus"
mkdir -p "$WORK/prometheus"
prometheus-node-exporter --web.listen-address="127.0.0.1:$exporter_port" --web.disable-exporter-metrics \
  --collector.disable-defaults --collector.textfile --collector.textfile.directory="$ROOT$TEXTFILE_DIR" \
  >"$WORK/prometheus/node-exporter.log" 2>&1 &
exporter_pid=$!
host_pids+=("$exporter_pid")
# The board's agent setup of docs/monitoring.md, every second instead of every 30.
cat >"$WORK/prometheus/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: rise-device-plugin
    static_configs: [{ targets: ["127.0.0.1:$plugin_port"] }]
    relabel_configs: [{ target_label: node, replacement: $NODE }]
  - job_name: rise-node-labeller
    static_configs: [{ targets: ["127.0.0.1:$labeller_port"] }]
    relabel_configs: [{ target_label: node, replacement: $NODE }]
EOF
prometheus --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$WORK/prometheus/prometheus.log" 2>&1 &
prom_pid=$!
host_pids+=("$prom_pid")

# --- both daemons on TCP loopback and writing textfiles, as the role would set them up -----------
printf '%s\ndeviceplugin:\n  metrics:\n    listen: 127.0.0.1:%s\n    textfile: %s\nlabeller:\n  metrics:\n    listen: 127.0.0.1:%s\n    textfile: %s\n' \
  "$metrics_base_config" "$plugin_port" "$PLUGIN_TEXTFILE" "$labeller_port" "$LABELLER_TEXTFILE" |
  C tee /etc/riscv-runner-node/config.yaml >/dev/null
check "check-config accepts both daemons' metrics on 127.0.0.1:$plugin_port and :$labeller_port with textfiles" \
  C sh -c "riscv-runner-node check-config >/dev/null"
# install_dropin <unit> <listen> <textfile> <network>: the role's drop-in, where the role puts it.
install_dropin() {
  local text
  text=$(metrics_dropin "$@") || return
  C install -d -m 0755 "/etc/systemd/system/$1.d" &&
    printf '%s\n' "$text" | C tee "/etc/systemd/system/$1.d/$DROPIN" >/dev/null
}
check "the role's metrics.conf.j2, rendered for $PLUGIN (TCP and textfile), installed as its drop-in" \
  install_dropin "$PLUGIN" "127.0.0.1:$plugin_port" "$PLUGIN_TEXTFILE" true
check "... and for $LABELLER (textfile)" install_dropin "$LABELLER" "127.0.0.1:$labeller_port" "$LABELLER_TEXTFILE" false
C systemctl daemon-reload
# plugin_sandbox: the plugin's RestrictAddressFamilies/IPAddressAllow, each sorted (systemd shows
# IPAddressAllow=localhost as both loopback prefixes, and either list in an order it chooses).
plugin_sandbox() {
  local p
  for p in RestrictAddressFamilies IPAddressAllow; do
    prop "$PLUGIN" "$p" | tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' '
    [ "$p" = IPAddressAllow ] || printf /
  done
}
echo "  $PLUGIN RestrictAddressFamilies/IPAddressAllow: $(plugin_sandbox); ReadWritePaths: $(prop "$PLUGIN" ReadWritePaths)"
check "drop-ins loaded: the plugin may use IP, localhost only, and both may write $TEXTFILE_DIR" \
  test "$(plugin_sandbox)" = "AF_INET AF_INET6 AF_UNIX /127.0.0.0/8 ::1/128 " -a \
  -n "$(prop "$PLUGIN" ReadWritePaths | grep -F -- "-$TEXTFILE_DIR")" -a -n "$(prop "$LABELLER" ReadWritePaths | grep -F -- "-$TEXTFILE_DIR")"
t_restart=$(date +%s)
C systemctl restart "$PLUGIN" "$LABELLER"
check "restarted with metrics: both units active" wait_for 20 both_active
check "the plugin's /healthz on 127.0.0.1:$plugin_port answers 200 (registered)" wait_for 20 healthz_ok "$plugin_port"
check "the labeller's /healthz on 127.0.0.1:$labeller_port answers 200 (in sync)" wait_for 20 healthz_ok "$labeller_port"
echo "  /healthz: plugin: $(curl -s -m 5 "http://127.0.0.1:$plugin_port/healthz") labeller: $(curl -s -m 5 "http://127.0.0.1:$labeller_port/healthz")"
score=$(C systemd-analyze security --no-pager "$PLUGIN" 2>/dev/null | e2e_exposure_score)
check "systemd-analyze security $PLUGIN with the TCP drop-in: exposure ${score:-?} <= 2.0" e2e_at_most "$score" 2.0

# --- Prometheus scrapes both ------------------------------------------------------------------
prom_ready() { [ "$(http_code "$prom_url/-/ready")" = 200 ]; }
check "Prometheus (Debian's $(prometheus --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p')) on 127.0.0.1:$prom_port ready" \
  wait_for 20 prom_ready
check "Prometheus: both targets up" wait_for 20 targets_up
echo "  targets: $(prom_targets 2>/dev/null)"
targets_up || tail -5 "$WORK/prometheus/prometheus.log"
RUNNER_DEVICES='rise_device_plugin_devices{job="rise-device-plugin",resource="riseproject.com/runner",health="healthy"}'
standin_slots() { res_field "sum(1 for d in s.get('devices', {}).get('riseproject.com/runner', []) if d['health'] == 'Healthy')"; }
slots_match() {
  local want
  want=$(standin_slots)
  [ "$want" -ge 1 ] 2>/dev/null && [ "$(prom_value "$RUNNER_DEVICES" 2>/dev/null)" = "$want" ]
}
check "Prometheus's query API: the runner slots the plugin advertises = the kubelet stand-in's healthy runners" \
  wait_for 20 slots_match
echo "  $RUNNER_DEVICES = $(prom_value "$RUNNER_DEVICES" 2>/dev/null); the stand-in has $(standin_slots) Healthy"
SYNC='rise_node_labeller_last_sync_timestamp_seconds{job="rise-node-labeller",node="'$NODE'"}'
sync_since_restart() {
  awk -v v="$(prom_value "$SYNC" 2>/dev/null)" -v s="$t_restart" -v n="$(date +%s)" 'BEGIN { exit !(v > 0 && v >= s - 1 && v <= n + 1) }'
}
check "Prometheus's query API: the labeller's last sync is since its restart, not in the future" wait_for 20 sync_since_restart
echo "  $SYNC = $(prom_value "$SYNC" 2>/dev/null) (restarted at $t_restart, now $(date +%s))"

# --- the output is valid exposition format ------------------------------------------------------
# lint_metrics <label> <file>: promtool's verdict on what was fetched or written, its findings shown.
lint_metrics() {
  local lint rc
  lint=$(promtool check metrics <"$2" 2>&1)
  rc=$?
  check "promtool check metrics: $1 ($(grep -c '^[a-z]' "$2") samples) is clean" test "$rc" = 0 -a -s "$2"
  [ "$rc" = 0 ] || echo "$lint" | head -10
}
for target in "plugin $plugin_port" "labeller $labeller_port"; do
  read -r what port <<<"$target"
  curl -sf -m 5 "http://127.0.0.1:$port/metrics" >"$WORK/prometheus/$what.metrics"
  lint_metrics "the $what's /metrics on 127.0.0.1:$port" "$WORK/prometheus/$what.metrics"
done

# --- node_exporter's textfile collector reads both files -----------------------------------------
exporter_has_both() {
  curl -sf -m 5 "$exporter_url/metrics" >"$WORK/prometheus/node-exporter.metrics" &&
    grep -qx 'rise_device_plugin_registered{resource="riseproject.com/runner"} 1' "$WORK/prometheus/node-exporter.metrics" &&
    grep -qx 'rise_node_labeller_in_sync 1' "$WORK/prometheus/node-exporter.metrics"
}
check "node_exporter's textfile collector on 127.0.0.1:$exporter_port shows the plugin's and the labeller's series" \
  wait_for 20 exporter_has_both
exporter_out=$WORK/prometheus/node-exporter.metrics
check "... with node_textfile_scrape_error 0" grep -qx 'node_textfile_scrape_error 0' "$exporter_out"
mtimes=$(grep -o '^node_textfile_mtime_seconds{file="[^"]*"}' "$exporter_out" | sed 's/.*file="\(.*\)"}/\1/' | xargs -rn1 basename | sort | tr '\n' ' ')
check "... and node_textfile_mtime_seconds for both files ($mtimes)" test "$mtimes" = "rise-device-plugin.prom rise-node-labeller.prom "
for file in "$PLUGIN_TEXTFILE" "$LABELLER_TEXTFILE"; do
  lint_metrics "$file" "$ROOT$file"
done

# --- back to no metrics, the units as shipped -------------------------------------------------------
for pid in "$prom_pid" "$exporter_pid"; do
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
host_pids=()
printf '%s\n' "$metrics_base_config" | C tee /etc/riscv-runner-node/config.yaml >/dev/null
for unit in "$PLUGIN" "$LABELLER"; do
  C rm -f "/etc/systemd/system/$unit.d/$DROPIN"
  C rmdir --ignore-fail-on-non-empty "/etc/systemd/system/$unit.d"
done
C systemctl daemon-reload
C systemctl restart "$PLUGIN" "$LABELLER"
if [ "$made_prometheus_dir" = yes ]; then C rm -rf /var/lib/prometheus; else C rm -f "$PLUGIN_TEXTFILE" "$LABELLER_TEXTFILE"; fi
metrics_off() { [ "$(http_code "http://127.0.0.1:$plugin_port/metrics")/$(http_code "http://127.0.0.1:$labeller_port/metrics")" = 000/000 ]; }
check "metrics off again: both units active" wait_for 20 both_active
check "... the plugin's unit as shipped (unix sockets alone, no IP address allowed), nothing on either port" \
  test "$(plugin_sandbox)/$(metrics_off && echo off)" = "AF_UNIX //off"
check "... and the runner slot registered as before" wait_for 20 runner_alone
echo "stage metrics: $(since "$t_metrics") s"
