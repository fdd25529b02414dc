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

# --- PCI pools under the real unit: the host's uplink is never pooled ----------------------------
# The container shares the host's network, so its default route is the host's; the unit keeps the
# plugin in that namespace (no PrivateNetwork=), where the routing table and sysfs show it.
uplink=$(C awk 'NR > 1 && $2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
check "the host has an IPv4 default route (via ${uplink:-none})" test -n "$uplink"
plugin_netns_shared() {
  local pid
  pid=$(prop rise-device-plugin.service MainPID)
  [ "${pid:-0}" -gt 1 ] && [ "$(C readlink "/proc/$pid/ns/net")" = "$(C readlink /proc/1/ns/net)" ]
}
# This container shares the host's network without CAP_NET_ADMIN (nspawn drops it then), so systemd
# cannot make network namespaces here and would run a PrivateNetwork=yes unit in the host's one
# all the same, where the checks below pass: the unit's setting is checked as well.
check "the plugin runs in the host's network namespace, and its unit asks for none of its own (PrivateNetwork=no)" \
  test "$(prop rise-device-plugin.service PrivateNetwork)/$(plugin_netns_shared && echo shared)" = no/shared
# pool_is <resource> <devices>: registered once, with exactly these devices ("" for none).
pool_is() { res_is "str(regs('$1')) + '/' + devices('$1')" "1/$2"; }
# empty_pool <resource>: registered once, an empty list sent, and no devices held now (the state
# file alone shows none from the registration on, before any list arrives).
empty_pool() { journal_has kubelet.service "fake-kubelet: $1: (no devices)" && pool_is "$1" ""; }
skipped_as_uplink() { journal_has rise-device-plugin.service "PCI function $1 matches .* but is not offered: interface $2 carries this host's default route"; }

# The container's own /sys: the PCI function behind the uplink, when it is one (a VM's virtio-pci
# NIC has its interface under virtio<N>/net/).
uplink_fn=$(C sh -c 'for d in /sys/bus/pci/devices/*; do for n in "$d"/net/* "$d"/virtio*/net/*; do [ "${n##*/}" = "$1" ] && { basename "$d"; exit 0; }; done; done' sh "$uplink")
if [ -n "$uplink_fn" ]; then
  write_config <<CONFIG
deviceplugin:
  pci:
    resourcePrefix: example.com
    resourceList:
      - resourceName: e2e_uplink
        deviceType: netDevice
        cdi: true
        selectors: { pciAddresses: ["$uplink_fn"], needVhostNet: true }
CONFIG
  reload_plugin
  check "a pool that selects the uplink's function $uplink_fn ($uplink) is served without it" wait_for 20 empty_pool example.com/e2e_uplink
  check "... the journal says why: $uplink carries the default route" wait_for 10 skipped_as_uplink "$uplink_fn" "$uplink"
  check "... and no CDI spec offers it" C test ! -e /run/cdi/riscv-runner-node_example.com_e2e_uplink.json
else
  echo "  the uplink $uplink is not a PCI function here; the fixture tree below still names it"
fi

# --- a PCI pool with CDI: its spec is in /run/cdi while the plugin runs, gone after stop ----------
# A fixture PCI tree, bound over /sys/bus/pci/devices for the plugin alone by a runtime drop-in:
# two virtio-pci network functions, one whose interface has the uplink's name (left out, as the
# uplink's own function is above) and one that is free (pooled). The container's real functions
# cannot serve: the one with the uplink is left out, and the others may have no driver or no
# interface. Entries link to their device directories as in sysfs, but by absolute path: relative
# links would resolve under the real /sys once bound there. needVhostNet gives the free one
# device nodes, so the pool has a CDI spec.
tree=/run/rrn-e2e-pci
C rm -rf "$tree"
fixture_fn() {
  local address=$1 nest=$2 ifname=$3 dir="$tree/devices/pci0000:e2/$1"
  C mkdir -p "$dir/$nest/$ifname" "$tree/bus/pci/devices" "$tree/bus/pci/drivers/virtio-pci"
  C sh -c 'echo 0x1af4 >"$1/vendor"; echo 0x1041 >"$1/device"; echo 0x020000 >"$1/class"; echo -1 >"$1/numa_node"
    echo 1 >"$1/$2/$3/type"; ln -s ../../../bus/pci/drivers/virtio-pci "$1/driver"' sh "$dir" "$nest" "$ifname"
  C ln -s "$dir" "$tree/bus/pci/devices/$address"
}
fixture_fn 0000:e2:00.0 virtio0/net "$uplink"
fixture_fn 0000:e2:00.1 net rrn-e2e0
C mkdir -p /run/systemd/system/rise-device-plugin.service.d
printf '[Service]\nBindReadOnlyPaths=%s/bus/pci/devices:/sys/bus/pci/devices\n' "$tree" |
  C tee /run/systemd/system/rise-device-plugin.service.d/e2e-pci-tree.conf >/dev/null
C systemctl daemon-reload
NIC_POOL=example.com/e2e_nic
nic=0000:e2:00.1
cdi_spec=/run/cdi/riscv-runner-node_example.com_e2e_nic.json
write_config <<CONFIG
deviceplugin:
  pci:
    resourcePrefix: example.com
    resourceList:
      - resourceName: e2e_nic
        deviceType: netDevice
        cdi: true
        selectors: { vendors: ["1af4"], needVhostNet: true }
CONFIG
C systemctl restart rise-device-plugin.service
check "fixture tree: $NIC_POOL has $nic alone, Healthy; 0000:e2:00.0 named $uplink is left out" wait_for 20 pool_is "$NIC_POOL" "$nic=Healthy"
check "... the journal says why: $uplink carries the default route" wait_for 10 skipped_as_uplink 0000:e2:00.0 "$uplink"
check "its CDI spec is in /run/cdi while the plugin runs" wait_for 10 C test -f "$cdi_spec"
spec_is_right() {
  C cat "$cdi_spec" | python3 -c '
import json, sys
s = json.load(sys.stdin)
nodes = [n["path"] for n in s["devices"][0]["containerEdits"]["deviceNodes"]]
ok = s["kind"] == sys.argv[1] and [d["name"] for d in s["devices"]] == [sys.argv[2]] and "/dev/vhost-net" in nodes and "/dev/net/tun" in nodes
sys.exit(0 if ok else 1)' "$NIC_POOL" "$nic"
}
check "... kind $NIC_POOL, one device $nic with /dev/vhost-net and /dev/net/tun; mode $(C stat -c %a "$cdi_spec")" \
  test "$(spec_is_right && echo ok)/$(C stat -c %a "$cdi_spec")" = "ok/644"
echo "  in the container: $(C sh -c 'for n in /dev/vhost-net /dev/net/tun; do [ -c $n ] && echo "$n present" || echo "$n absent"; done' | paste -sd, -) (the spec names them; a runtime opens them)"
C systemctl stop rise-device-plugin.service
check "systemctl stop removes the CDI spec it wrote" C test ! -e "$cdi_spec"
C rm -f /run/systemd/system/rise-device-plugin.service.d/e2e-pci-tree.conf
C systemctl daemon-reload
C rm -rf "$tree"
printf '%s\n' "$base_config" | write_config
C systemctl start rise-device-plugin.service
runner_alone() { test "$(prop rise-device-plugin.service StatusText)" = "registered with kubelet: riseproject.com/runner 1/1 healthy"; }
check "started again on the base config: the runner slot alone" wait_for 20 runner_alone
# The plugin's own view of /sys/bus/pci/devices, through its root: the container's again.
real_pci_view() {
  local pid
  pid=$(prop rise-device-plugin.service MainPID)
  [ "${pid:-0}" -gt 1 ] && [ "$(C ls "/proc/$pid/root/sys/bus/pci/devices")" = "$(C ls /sys/bus/pci/devices)" ]
}
check "... the e2e drop-in gone: the plugin sees the container's PCI functions again" \
  test "$(prop rise-device-plugin.service DropInPaths | grep -c e2e-pci-tree)/$(real_pci_view && echo real)" = 0/real
