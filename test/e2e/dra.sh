# Sourced by run-e2e.sh: the DRA driver's unit under the container's systemd, installed disabled,
# enabled, registering with the DRA kubelet stand-in, publishing its slice, stopping cleanly.
# Uses run-e2e.sh's C, check, wait_for, prop, is_active, api_url, api_token and NODE.

DRA=rise-dra-driver.service
DRIVER=runner.riseproject.dev
REG_SOCK=/var/lib/kubelet/plugins_registry/$DRIVER-reg.sock
DRA_SOCK=/var/lib/kubelet/plugins/$DRIVER/dra.sock
dra_state() { C cat /run/fake-dra-kubelet/state.json 2>/dev/null; }
# dra_field <python expression over s, the DRA stand-in's state>
dra_field() {
  dra_state | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    print("?"); sys.exit()
print(eval(sys.argv[1]))' "$1"
}
dra_registered() { [ "$(dra_field 'sum(1 for p in s["plugins"] if p["driver"] == "'$DRIVER'" and p["service"] == "v1.DRAPlugin")')" -ge 1 ]; }
# our_slices: the devices of the node's slices of our driver, as the API server stand-in holds them.
our_slices() {
  python3 - "$api_url" "$api_token" "$NODE" "$DRIVER" <<'PY'
import json, sys, urllib.parse, urllib.request
url, token, node, driver = sys.argv[1:5]
q = urllib.parse.urlencode({"fieldSelector": f"spec.nodeName={node},spec.driver={driver}"})
req = urllib.request.Request(f"{url}/apis/resource.k8s.io/v1/resourceslices?{q}", headers={"Authorization": f"Bearer {token}"})
items = json.load(urllib.request.urlopen(req, timeout=5))["items"]
print(" ".join(d["name"] + ":" + d["attributes"]["board"]["string"] for s in items for d in s["spec"].get("devices", [])))
PY
}
slices_are() { [ "$(our_slices 2>/dev/null)" = "$1" ]; }

check "DRA unit installed disabled: not wanted by multi-user.target nor the kubelet" \
  C sh -c "test -f /usr/lib/systemd/system/$DRA && ! test -e /etc/systemd/system/multi-user.target.wants/$DRA && ! test -e /etc/systemd/system/kubelet.service.wants/$DRA && test \"\$(systemctl is-enabled $DRA)\" = disabled"
verify_dra=$(C systemd-analyze verify "$DRA" 2>&1)
check "systemd-analyze verify $DRA is clean" test -z "$verify_dra" || echo "$verify_dra"
score=$(C systemd-analyze security --offline=true --no-pager "/usr/lib/systemd/system/$DRA" 2>/dev/null | e2e_exposure_score)
check "systemd-analyze security rise-dra-driver: exposure ${score:-?} <= 2.0" e2e_at_most "$score" 2.0

# The stand-in's plugin watcher, with the node's own token for its slice wipes.
C systemd-run --quiet --unit fake-dra-kubelet --property=Restart=no /usr/bin/node /opt/e2e/fakes/kubelet-dra.mjs \
  --registry-dir /var/lib/kubelet/plugins_registry --node "$NODE" --api "$api_url" --token "$api_token" --state /run/fake-dra-kubelet/state.json
check "DRA kubelet stand-in running" wait_for 10 C test -s /run/fake-dra-kubelet/state.json

dra_base_config=$(C cat /etc/riscv-runner-node/config.yaml)
printf '%s\ndra:\n  resources: [riseproject.com/runner]\n' "$dra_base_config" | C tee /etc/riscv-runner-node/config.yaml >/dev/null
check "check-config accepts the runner through DRA" C sh -c "riscv-runner-node check-config >/dev/null"
t=$(now)
C systemctl enable --now "$DRA" >/dev/null 2>&1
check "enabled: wanted by multi-user.target and the kubelet" \
  C test -L /etc/systemd/system/multi-user.target.wants/$DRA -a -L /etc/systemd/system/kubelet.service.wants/$DRA
check "DRA driver active" wait_for 20 is_active "$DRA"
is_active "$DRA" || C journalctl -q -u "$DRA" -n 20 --no-pager
check "registered with the stand-in on v1.DRAPlugin ($(since "$t") s after start)" wait_for 20 dra_registered
check "its ResourceSlice: runner-0 on board scw-em-rv1" wait_for 20 slices_are "runner-0:scw-em-rv1"
echo "  systemctl status rise-dra-driver: Status: $(prop "$DRA" StatusText)"
check "both sockets in place" C test -S "$REG_SOCK" -a -S "$DRA_SOCK"
C systemctl reload rise-device-plugin.service
check "the device plugin, reloaded, no longer advertises the runner (allocatable 0)" wait_for 20 res_is "allocatable('riseproject.com/runner')" 0

# systemctl reload (Type=notify-reload): the same process reads the config again; systemctl
# returns at its READY=1, for a config it refuses too.
dra_pid=$(prop "$DRA" MainPID)
same_dra() { [ "$(prop "$DRA" MainPID)" = "$dra_pid" ] && is_active "$DRA" && dra_registered && slices_are "runner-0:scw-em-rv1"; }
refused_dra() { same_dra && C journalctl -q -u "$DRA" --no-pager | grep -q 'config reload failed'; }
check "systemctl reload $DRA returns" C timeout 20 systemctl reload "$DRA"
check "reloaded: the same process, still registered, the same slice" same_dra
printf '%s\ndra:\n  resources: nope\n' "$dra_base_config" | C tee /etc/riscv-runner-node/config.yaml >/dev/null
check "a config it refuses: systemctl reload $DRA still returns" C timeout 20 systemctl reload "$DRA"
check "a config it refuses: the same process and slice, and the journal says why" refused_dra
printf '%s\ndra:\n  resources: [riseproject.com/runner]\n' "$dra_base_config" | C tee /etc/riscv-runner-node/config.yaml >/dev/null

t=$(now)
C systemctl stop "$DRA"
stop_s=$(since "$t")
check "SIGTERM: DRA driver stops cleanly within 5 s (took $stop_s s; result $(prop "$DRA" Result))" \
  awk -v s="$stop_s" -v r="$(prop "$DRA" Result)" 'BEGIN { exit !(s < 5 && r == "success") }'
check "SIGTERM: both sockets removed" C test ! -e "$REG_SOCK" -a ! -e "$DRA_SOCK"
dra_unregistered() { [ "$(dra_field 'len(s["plugins"])')" = 0 ]; }
check "the stand-in unregistered the driver" wait_for 10 dra_unregistered

C systemctl disable "$DRA" >/dev/null 2>&1
C systemctl stop fake-dra-kubelet.service
printf '%s\n' "$dra_base_config" | C tee /etc/riscv-runner-node/config.yaml >/dev/null
C systemctl reload rise-device-plugin.service
check "the device plugin advertises the runner again" wait_for 20 res_is "allocatable('riseproject.com/runner')" 1
