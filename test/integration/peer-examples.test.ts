// The peers' own documented examples, translated into our config, as the kubelet stand-in sees them.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { loadConfig, type DevicePluginConfig } from '../../src/common/config.js';
import { buildDevTree, RASPBERRY_PI_DEV } from '../helpers/dev-tree.js';
import { PI_CAPACITY, RASPBERRY_PI_README_LIST, SPOOKD_README_MAPPING } from '../helpers/peer-examples.js';
import { RESOURCE, startHarness, type Harness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

type Form = 'inline' | 'file';

const indent = (text: string, by: string): string => text.replace(/^(?=.)/gm, by);

/** Our config for the example, inline or naming the peer's own file (written beside it), read as the daemon reads it. */
async function configFor(t: ExecutionContext, section: 'virtual' | 'dev', form: Form): Promise<DevicePluginConfig> {
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  if (section === 'virtual') {
    if (form === 'inline') await writeFile(file, `deviceplugin:\n  virtual:\n${indent(SPOOKD_README_MAPPING, '    ')}`);
    else {
      await writeFile(path.join(etc, 'spookd.yaml'), SPOOKD_README_MAPPING);
      await writeFile(file, `deviceplugin:\n  virtual: { file: ${path.join(etc, 'spookd.yaml')} }\n`);
    }
  } else if (form === 'inline') {
    await writeFile(file, `deviceplugin:\n  dev:\n${RASPBERRY_PI_README_LIST}`);
  } else {
    // smarter's conf.yaml is the bare list.
    const list = RASPBERRY_PI_README_LIST.split('\n').slice(1).map((l) => l.slice(6)).join('\n');
    await writeFile(path.join(etc, 'conf.yaml'), list);
    await writeFile(file, `deviceplugin:\n  dev: { file: ${path.join(etc, 'conf.yaml')} }\n`);
  }
  const config = (await loadConfig(file, { mustExist: true })).deviceplugin;
  return { ...config, maintenanceFile: path.join(etc, 'maintenance') };
}

/** What a resource shows on the Node, per the stand-in: capacity and allocatable. */
function nodeView(h: Harness, names: readonly string[]): Record<string, [number, number]> {
  return Object.fromEntries(names.map((n) => [n, [h.kubelet.capacity(n), h.kubelet.allocatable(n)]]));
}

const OSC = 'skao.int/oscilloscope';
const SIG = 'skao.int/signal-generator';

/**
 * The env spookd's docs show for an allocation (reference: `<RES>_NUM_DEVICES`, `<RES>_DEV<i>_{ID,TYPE,<KEY>}`,
 * the short forms for the first device), written out here from the docs, not from our code.
 */
function documentedEnv(resource: string, devices: ReadonlyArray<[id: string, ip: string]>): Record<string, string> {
  const res = resource.toUpperCase().replace(/\./g, '').replace(/\//g, '_').replace(/-/g, '_');
  const env: Record<string, string> = { [`${res}_NUM_DEVICES`]: String(devices.length) };
  devices.forEach(([id, ip], i) => {
    for (const p of i === 0 ? [`${res}_DEV${i}_`, `${res}_`] : [`${res}_DEV${i}_`]) {
      env[`${p}ID`] = id;
      env[`${p}TYPE`] = resource;
      env[`${p}IP`] = ip;
    }
  });
  return env;
}

// spookd's README mapping: what each host has, device by device (ID, IP).
const HOSTS: Array<[string, Record<string, Array<[string, string]>>]> = [
  ['lab1-host1', { [OSC]: [['0001', '10.0.10.215'], ['0002', '10.0.10.218']], [SIG]: [['0001', '10.10.10.80']] }],
  ['lab1-host2', { [OSC]: [['0001', '10.0.10.215'], ['0002', '10.0.10.218']], [SIG]: [['0001', '10.10.10.80']] }],
  ['lab2-host1', { [OSC]: [['0003', '10.0.10.85']], [SIG]: [['0002', '10.0.10.80']] }],
  ['lab3-host9', {}],
];

for (const form of ['inline', 'file'] as const) {
  for (const [host, want] of HOSTS) {
    test(`spookd's README mapping (${form}) on ${host}: the documented capacity and exactly the documented env`, async (t) => {
      const config = await configFor(t, 'virtual', form);
      // The host name is what the mapping names; the Node name is something else.
      const h = await startHarness(t, { settings: { ...config, names: { nodeName: `node-${host}`, hostName: host.toUpperCase() } } });
      const names = Object.keys(want);
      await h.kubelet.waitFor(
        () => h.kubelet.allocatable(RESOURCE) === 1 && names.every((n) => h.kubelet.allocatable(n) === want[n]!.length),
        10_000,
        `${host}'s resources`,
      );
      t.deepEqual(nodeView(h, names), Object.fromEntries(names.map((n) => [n, [want[n]!.length, want[n]!.length]])));
      // Nothing else registers: a host in no mapping has the runner slot alone.
      t.deepEqual([...new Set(h.kubelet.registrations.map((r) => r.resourceName))].sort(), [RESOURCE, ...names].sort());
      t.deepEqual(h.kubelet.streamingResources(), [RESOURCE, ...names].sort());
      for (const name of names) {
        t.deepEqual(h.kubelet.devices(name), want[name]!.map(([id]) => ({ ID: id, health: 'Healthy' })));
        t.is(h.kubelet.registrations.find((r) => r.resourceName === name)?.endpoint, `spookd-${name.replace(/\./g, '').replace(/\//g, '_')}.sock`);
        // Each device alone, then all of them in one container.
        for (const device of want[name]!) {
          const res = await h.kubelet.allocate(name, [device[0]]);
          t.deepEqual(res.container_responses.map((c) => ({ ...c.envs })), [documentedEnv(name, [device])], `${name} ${device[0]}`);
          t.deepEqual(res.container_responses[0]?.devices, []);
        }
        const all = await h.kubelet.allocate(name, want[name]!.map(([id]) => id));
        t.deepEqual({ ...all.container_responses[0]?.envs }, documentedEnv(name, want[name]!));
      }
      // A device of another host is not this node's to give.
      await t.throwsAsync(h.kubelet.allocate(RESOURCE, ['runner-9']), { message: /unknown device 'runner-9'/ });
      if (host !== 'lab2-host1' && names.includes(OSC)) await t.throwsAsync(h.kubelet.allocate(OSC, ['0003']), { message: /unknown device '0003'/ });
    });
  }
}


const rw = (p: string): { container_path: string; host_path: string; permissions: string } => ({ container_path: p, host_path: p, permissions: 'rw' });

for (const form of ['inline', 'file'] as const) {
  test(`smarter's Raspberry Pi list (${form}) over a fixture /dev: its README's resources, shares and DeviceSpecs`, async (t) => {
    const root = await tempDir(t, 'rrn-root-');
    t.log('device nodes made by', await buildDevTree(path.join(root, 'dev'), RASPBERRY_PI_DEV));
    const config = await configFor(t, 'dev', form);
    const h = await startHarness(t, { settings: { ...config, root } });
    const names = Object.keys(PI_CAPACITY).sort();
    await h.kubelet.waitFor(
      // A first list on every stream: capacity 0 is also what a stream that sent nothing yet shows.
      () => names.every((n) => h.kubelet.streamingResources().includes(n) && h.kubelet.capacity(n) === PI_CAPACITY[n] && h.kubelet.updates.some((u) => u.resourceName === n)),
      10_000,
      'every resource of the README',
    );
    t.deepEqual(nodeView(h, names), Object.fromEntries(names.map((n) => [n, [PI_CAPACITY[n], PI_CAPACITY[n]]])));
    t.deepEqual(h.kubelet.streamingResources(), [RESOURCE, ...names].sort());
    // Capacity 0 still means registered, with an empty device list on its stream.
    for (const zero of names.filter((n) => PI_CAPACITY[n] === 0)) {
      t.true(h.kubelet.registrations.some((r) => r.resourceName === zero), zero);
      t.true(h.kubelet.updates.some((u) => u.resourceName === zero && u.devices.length === 0), zero);
    }
    t.is(h.kubelet.registrations.find((r) => r.resourceName === 'smarter-devices/vcsm-cma')?.endpoint, 'smarter-vcsm-cma.sock');
    t.deepEqual(h.kubelet.devices('smarter-devices/video4'), Array.from({ length: 10 }, (_, i) => ({ ID: String(i), health: 'Healthy' })));

    // The DeviceSpecs: host path = container path, rw; a directory gives each device node under it.
    const specs = async (name: string, ids: string[]): Promise<unknown> => (await h.kubelet.allocate(name, ids)).container_responses.map((c) => c.devices);
    t.deepEqual(await specs('smarter-devices/gpiochip0', ['0']), [[rw('/dev/gpiochip0')]]);
    t.deepEqual(await specs('smarter-devices/video4', ['3', '9']), [[rw('/dev/video4')]]);
    t.deepEqual(await specs('smarter-devices/i2c-1', ['5']), [[rw('/dev/i2c-1')]]);
    t.deepEqual(await specs('smarter-devices/snd', ['0']), [
      ['/dev/snd/by-path/platform-bcm2835_audio', '/dev/snd/controlC0', '/dev/snd/pcmC0D0p', '/dev/snd/seq', '/dev/snd/timer'].map(rw),
    ]);
    const env = (await h.kubelet.allocate('smarter-devices/vchiq', ['1'])).container_responses[0]?.envs;
    t.deepEqual({ ...env }, {});
    // A share the README's count does not have, and any ID of a capacity-0 resource, are refused by name.
    await t.throwsAsync(h.kubelet.allocate('smarter-devices/gpiomem', ['10']), { message: /unknown device '10' for smarter-devices\/gpiomem/ });
    await t.throwsAsync(h.kubelet.allocate('smarter-devices/vcs', ['0']), { message: /unknown device '0' for smarter-devices\/vcs \(this node has none\)/ });
  });
}
