# Sourced by run-e2e.sh: many resources from one config, live reload through `systemctl reload`
# (Type=notify-reload), and a /dev entry that goes and comes back, under the container's systemd.
# Uses run-e2e.sh's C, check, wait_for, prop and kubelet_state.

# res_field <python expression over s, the stand-in's state>: prints its value.
res_field() {
  kubelet_state | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    print("?"); sys.exit()
regs = lambda name: sum(1 for r in s.get("registrations", []) if r.get("resourceName") == name)
devices = lambda name: ",".join(d["ID"] + "=" + d["health"] for d in s.get("devices", {}).get(name, []))
streams = lambda name: s.get("streamsOpened", {}).get(name, 0)
allocatable = lambda name: s.get("allocatable", {}).get(name, 0)
print(eval(sys.argv[1]))' "$1"
}
res_is() { [ "$(res_field "$1")" = "$2" ]; }
write_config() { C tee /etc/riscv-runner-node/config.yaml >/dev/null; }
reload_plugin() { C systemctl reload rise-device-plugin.service; }

RUNNER=riseproject.com/runner
WIDGET=example.com/widget
TTY=smarter-devices/rrn-e2e-tty0
base_config=$(C cat /etc/riscv-runner-node/config.yaml)

C mknod -m 0600 /dev/rrn-e2e-tty0 c 1 3
check "a device node for the /dev kind exists in the container" C test -c /dev/rrn-e2e-tty0

plugin_pid=$(prop rise-device-plugin.service MainPID)
runner_regs=$(res_field "regs('$RUNNER')")
runner_streams=$(res_field "streams('$RUNNER')")
echo "  before: $RUNNER registrations $runner_regs, streams $runner_streams"

# --- add: virtual devices and a /dev entry ------------------------------------------------------
with_resources() {
  cat <<EOF
deviceplugin:
  virtual:
    deviceMapping:
      - hosts: [$NODE]
        devices:
$(for id in "$@"; do printf '          - { resourceName: %s, instanceID: "%s", env: { IP: 10.0.0.%s } }\n' "$WIDGET" "$id" "${id#000}"; done)
  dev:
    devices:
      - { devicematch: "^rrn-e2e-tty[0-9]+$", nummaxdevices: 2 }
EOF
}
with_resources 0001 0002 | write_config
t=$(now)
check "systemctl reload: exit 0" reload_plugin
check "reload adds $WIDGET with 2 devices" wait_for 20 res_is "devices('$WIDGET')" "0001=Healthy,0002=Healthy"
check "reload adds $TTY with 2 shares, served from the host's /dev" wait_for 20 res_is "devices('$TTY')" "0=Healthy,1=Healthy"
echo "  added in $(since "$t") s; Status: $(prop rise-device-plugin.service StatusText)"
check "status sums the resources" grep -q 'registered with kubelet: 3 resources, 5/5 devices healthy' <<<"$(prop rise-device-plugin.service StatusText)"
check "reload left the runner's registration and stream alone" \
  test "$(res_field "regs('$RUNNER')")/$(res_field "streams('$RUNNER')")" = "$runner_regs/$runner_streams"
check "journal: the reload was asked for and applied" journal_has rise-device-plugin.service 'reload requested'

# --- change: one more widget -------------------------------------------------------------------
with_resources 0001 0002 0003 | write_config
reload_plugin
check "reload changes $WIDGET to 3 devices on its open stream" wait_for 20 res_is "devices('$WIDGET')" "0001=Healthy,0002=Healthy,0003=Healthy"
check "$WIDGET: still one registration, one stream" test "$(res_field "regs('$WIDGET')")/$(res_field "streams('$WIDGET')")" = "1/1"

# --- hotplug: the device node goes and comes back ------------------------------------------------
C rm /dev/rrn-e2e-tty0
check "device node removed: its shares turn Unhealthy" wait_for 20 res_is "devices('$TTY')" "0=Unhealthy,1=Unhealthy"
C mknod -m 0600 /dev/rrn-e2e-tty0 c 1 3
check "device node back: Healthy again, no new registration" wait_for 20 res_is "devices('$TTY') + '/' + str(regs('$TTY'))" "0=Healthy,1=Healthy/1"

# --- 100 reloads with nothing changed ------------------------------------------------------------
before="$(res_field "regs('$RUNNER')"),$(res_field "streams('$RUNNER')"),$(res_field "regs('$WIDGET')"),$(res_field "streams('$WIDGET')"),$(res_field "regs('$TTY')"),$(res_field "streams('$TTY')")"
t=$(now)
C sh -c 'for i in $(seq 100); do systemctl reload rise-device-plugin.service || exit 1; done'
reload_rc=$?
echo "  100 reloads in $(since "$t") s"
after="$(res_field "regs('$RUNNER')"),$(res_field "streams('$RUNNER')"),$(res_field "regs('$WIDGET')"),$(res_field "streams('$WIDGET')"),$(res_field "regs('$TTY')"),$(res_field "streams('$TTY')")"
check "100 reloads: each exits 0, no registration or stream restarted ($before -> $after)" test "$reload_rc/$before" = "0/$after"

# --- an invalid config keeps the old one serving --------------------------------------------------
printf 'deviceplugin:\n  virtual:\n    deviceMapping: nope\n' | write_config
reload_plugin
status=$(prop rise-device-plugin.service StatusText)
echo "  Status: $status"
check "invalid config on reload: status says so, previous config still served" \
  grep -q '^config reload failed: .*deviceMapping.*; still serving the previous config; registered with kubelet: 3 resources' <<<"$status"
check "invalid config on reload: unit active, every resource still allocatable" \
  test "$(prop rise-device-plugin.service ActiveState)/$(res_field "allocatable('$RUNNER')"),$(res_field "allocatable('$WIDGET')"),$(res_field "allocatable('$TTY')")" = "active/1,3,2"

# --- remove: back to the runner slot alone --------------------------------------------------------
printf '%s\n' "$base_config" | write_config
reload_plugin
widget_gone() { res_is "devices('$WIDGET')" "" && C test ! -e /var/lib/kubelet/device-plugins/spookd-examplecom_widget.sock; }
check "reload removes $WIDGET: empty device list, socket gone" wait_for 20 widget_gone
check "reload removes $TTY: socket gone" C test ! -e /var/lib/kubelet/device-plugins/smarter-rrn-e2e-tty0.sock
check "status is the runner's alone again" \
  test "$(prop rise-device-plugin.service StatusText)" = "registered with kubelet: riseproject.com/runner 1/1 healthy"
check "every reload was a reload: the same process throughout (MainPID $plugin_pid)" \
  test "$(prop rise-device-plugin.service MainPID)" = "$plugin_pid"
C rm -f /dev/rrn-e2e-tty0

# --- a PCI pool with CDI: its spec is in /run/cdi while the plugin runs, gone after stop ----------
# The container sees the host's /sys: its first network function makes a one-device pool, and
# needVhostNet gives that device nodes, so the pool has a CDI spec.
nic=$(C sh -c 'for d in /sys/bus/pci/devices/*; do case $(cat "$d/class") in 0x02*) basename "$d"; exit 0;; esac; done')
check "the container's /sys has a PCI network function for a pool (${nic:-none})" test -n "$nic"
NIC_POOL=example.com/e2e_nic
cdi_spec=/run/cdi/riscv-runner-node_example.com_e2e_nic.json
write_config <<CONFIG
deviceplugin:
  pci:
    resourcePrefix: example.com
    resourceList:
      - resourceName: e2e_nic
        deviceType: netDevice
        cdi: true
        selectors: { pciAddresses: ["$nic"], needVhostNet: true }
CONFIG
reload_plugin
check "reload adds $NIC_POOL with the function $nic, Healthy" wait_for 20 res_is "devices('$NIC_POOL')" "$nic=Healthy"
check "its CDI spec is in /run/cdi while the plugin runs" wait_for 10 C test -f "$cdi_spec"
spec_is_right() {
  C cat "$cdi_spec" | python3 -c '
import json, sys
s = json.load(sys.stdin)
nodes = [n["path"] for n in s["devices"][0]["containerEdits"]["deviceNodes"]]
ok = s["kind"] == sys.argv[1] and [d["name"] for d in s["devices"]] == [sys.argv[2]] and "/dev/vhost-net" in nodes
sys.exit(0 if ok else 1)' "$NIC_POOL" "$nic"
}
check "... kind $NIC_POOL, one device $nic with its nodes; mode $(C stat -c %a "$cdi_spec")" \
  test "$(spec_is_right && echo ok)/$(C stat -c %a "$cdi_spec")" = "ok/644"
C systemctl stop rise-device-plugin.service
check "systemctl stop removes the CDI spec it wrote" C test ! -e "$cdi_spec"
printf '%s\n' "$base_config" | write_config
C systemctl start rise-device-plugin.service
runner_alone() { test "$(prop rise-device-plugin.service StatusText)" = "registered with kubelet: riseproject.com/runner 1/1 healthy"; }
check "started again on the base config: the runner slot alone" wait_for 20 runner_alone
