// sriov's README config, translated into our config, over a fixture sysfs tree, as the kubelet stand-in sees it.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { loadConfig, type DevicePluginConfig } from '../../src/common/config.js';
import { buildPciTree, README_HOST, writeRouteTable } from '../helpers/pci-tree.js';
import { SRIOV_README_CONFIG } from '../helpers/peer-examples.js';
import { RESOURCE, startHarness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

type Form = 'inline' | 'file';

/** Our config for the example: sriov's JSON under deviceplugin.pci, or its own config.json named by file:. */
async function configFor(t: ExecutionContext, form: Form): Promise<DevicePluginConfig> {
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  if (form === 'inline') {
    // JSON is YAML: the resourceList goes in as sriov writes it.
    await writeFile(file, `deviceplugin:\n  pci:\n    resourceList: ${JSON.stringify(JSON.parse(SRIOV_README_CONFIG).resourceList)}\n`);
  } else {
    await writeFile(path.join(etc, 'config.json'), SRIOV_README_CONFIG);
    await writeFile(file, `deviceplugin:\n  pci: { file: ${path.join(etc, 'config.json')} }\n`);
  }
  const config = (await loadConfig(file, { mustExist: true })).deviceplugin;
  return { ...config, maintenanceFile: path.join(etc, 'maintenance') };
}

// What sriov's contract gives on README_HOST, written out from the reference: each device goes to
// the first pool whose selectors match; PFs with VFs and the default-route uplink are not offered;
// the two pools whose selectors repeat intel_sriov_netdevice's get nothing (first match wins) but
// are registered, at 0. Topology from numa_node.
const POOLS: Record<string, { socket: string; devices: Array<[string, number]> }> = {
  'intel.com/intel_sriov_netdevice': { socket: 'intel.com_intel_sriov_netdevice.sock', devices: [['0000:18:02.0', 0], ['0000:18:02.1', 0], ['0000:af:10.0', 1]] },
  'intel.com/intel_sriov_dpdk': { socket: 'intel.com_intel_sriov_dpdk.sock', devices: [['0000:18:02.2', 0], ['0000:18:02.3', 0], ['0000:af:10.2', 1]] },
  'intel.com/intel_fpga': { socket: 'intel.com_intel_fpga.sock', devices: [['0000:5e:00.0', 0]] },
  'intel.com/intel_sriov_netdevice_additional_env': { socket: 'intel.com_intel_sriov_netdevice_additional_env.sock', devices: [] },
  'broadcom.com/brcm_sriov_bnxt': { socket: 'broadcom.com_brcm_sriov_bnxt.sock', devices: [['0000:86:00.0', 1]] },
  'intel.com/old_selectors_syntax_example': { socket: 'intel.com_old_selectors_syntax_example.sock', devices: [] },
};

const rw = (p: string) => ({ container_path: p, host_path: p, permissions: 'rw' });

for (const form of ['inline', 'file'] as const) {
  test(`sriov's README config (${form}) over a fixture sysfs: its pools, sockets, topology, env and _INFO`, async (t) => {
    const root = await tempDir(t, 'rrn-root-');
    await buildPciTree(root, README_HOST);
    await writeRouteTable(root, ['eno1'], ['enp0s0f0', 'enp2s2f1']);
    const config = await configFor(t, form);
    const h = await startHarness(t, { settings: { ...config, root } });
    const names = Object.keys(POOLS);
    await h.kubelet.waitFor(
      () => names.every((n) => h.kubelet.streamingResources().includes(n) && h.kubelet.updates.some((u) => u.resourceName === n)),
      10_000,
      'every pool of the README',
    );
    t.deepEqual(h.kubelet.streamingResources(), [RESOURCE, ...names].sort());
    for (const [name, pool] of Object.entries(POOLS)) {
      t.deepEqual(h.kubelet.devices(name), pool.devices.map(([ID, numa]) => ({ ID, health: 'Healthy', numa: [numa] })), name);
      t.is(h.kubelet.allocatable(name), pool.devices.length, name);
      const registration = h.kubelet.registrations.find((r) => r.resourceName === name);
      t.is(registration?.endpoint, pool.socket, name);
      // Only PCI pools ask the kubelet for GetPreferredAllocation.
      t.true(registration?.options.get_preferred_allocation_available, name);
    }
    t.false(h.kubelet.registrations.find((r) => r.resourceName === RESOURCE)?.options.get_preferred_allocation_available);

    // A kernel network VF: the IDs and _INFO's generic provider, no device node.
    const net = await h.kubelet.allocate('intel.com/intel_sriov_netdevice', ['0000:af:10.0', '0000:18:02.0']);
    t.deepEqual({ ...net.container_responses[0]?.envs }, {
      PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE: '0000:af:10.0,0000:18:02.0',
      PCIDEVICE_INTEL_COM_INTEL_SRIOV_NETDEVICE_INFO: '{"0000:18:02.0":{"generic":{"deviceID":"0000:18:02.0"}},"0000:af:10.0":{"generic":{"deviceID":"0000:af:10.0"}}}',
    });
    t.deepEqual(net.container_responses[0]?.devices, []);

    // vfio-pci with needVhostNet: vfio and vhost providers; /dev/vfio/vfio, the groups, vhost-net and tun, each once.
    const dpdk = await h.kubelet.allocate('intel.com/intel_sriov_dpdk', ['0000:18:02.3', '0000:af:10.2']);
    t.deepEqual({ ...dpdk.container_responses[0]?.envs }, {
      PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK: '0000:18:02.3,0000:af:10.2',
      PCIDEVICE_INTEL_COM_INTEL_SRIOV_DPDK_INFO:
        '{"0000:18:02.3":{"generic":{"deviceID":"0000:18:02.3"},"vfio":{"dev-mount":"/dev/vfio/101","mount":"/dev/vfio/vfio"},"vhost":{"net-mount":"/dev/vhost-net","tun-mount":"/dev/net/tun"}},' +
        '"0000:af:10.2":{"generic":{"deviceID":"0000:af:10.2"},"vfio":{"dev-mount":"/dev/vfio/120","mount":"/dev/vfio/vfio"},"vhost":{"net-mount":"/dev/vhost-net","tun-mount":"/dev/net/tun"}}}',
    });
    t.deepEqual(dpdk.container_responses[0]?.devices, ['/dev/vfio/vfio', '/dev/vfio/101', '/dev/vhost-net', '/dev/net/tun', '/dev/vfio/120'].map(rw));

    const fpga = await h.kubelet.allocate('intel.com/intel_fpga', ['0000:5e:00.0']);
    t.deepEqual({ ...fpga.container_responses[0]?.envs }, {
      PCIDEVICE_INTEL_COM_INTEL_FPGA: '0000:5e:00.0',
      PCIDEVICE_INTEL_COM_INTEL_FPGA_INFO: '{"0000:5e:00.0":{"generic":{"deviceID":"0000:5e:00.0"},"vfio":{"dev-mount":"/dev/vfio/130","mount":"/dev/vfio/vfio"}}}',
    });
    t.deepEqual(fpga.container_responses[0]?.devices, ['/dev/vfio/vfio', '/dev/vfio/130'].map(rw));

    const bnxt = await h.kubelet.allocate('broadcom.com/brcm_sriov_bnxt', ['0000:86:00.0']);
    t.deepEqual({ ...bnxt.container_responses[0]?.envs }, {
      PCIDEVICE_BROADCOM_COM_BRCM_SRIOV_BNXT: '0000:86:00.0',
      PCIDEVICE_BROADCOM_COM_BRCM_SRIOV_BNXT_INFO: '{"0000:86:00.0":{"generic":{"deviceID":"0000:86:00.0"}}}',
    });

    // Not offered: the uplink, and a PF whose VFs are configured; a device of another pool.
    await t.throwsAsync(h.kubelet.allocate('intel.com/intel_sriov_netdevice', ['0000:3d:00.0']), { message: /unknown device '0000:3d:00\.0'/ });
    await t.throwsAsync(h.kubelet.allocate('intel.com/intel_sriov_netdevice', ['0000:18:00.0']), { message: /unknown device '0000:18:00\.0'/ });
    await t.throwsAsync(h.kubelet.allocate('intel.com/intel_sriov_netdevice_additional_env', ['0000:18:02.0']), { message: /this node has none/ });
    // The uplink (8086:1572) is in no pool's devices list, so its skip needs no word.
    t.deepEqual(h.logger.lines.filter((l) => l.level === 'warn' && !l.message.startsWith('failed to allocate')), []);
  });
}
