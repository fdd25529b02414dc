// The DRA device model: every device carries every attribute, valid as the API server checks it, for any board and config.
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { defaultConfig, type Config } from '../../src/common/config.js';
import { boardAttributes, deviceName, draDevices, isaAttribute, MAX_ATTRIBUTES, resourceEnv } from '../../src/dra/devices.js';
import { discoverDra, parseMemTotal } from '../../src/dra/discovery.js';
import { planSlices, sliceFor, chunkDevices, type Slice } from '../../src/dra/slices.js';
import { KNOWN_ISA_EXTENSIONS } from '../../src/labeller/isa-extensions.js';
import { sliceProblems, type FakeSlice } from '../fakes/resource-api.js';
import { tempDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '../../../test/fixtures');

/** Every fixture board: the sample roots, and each cpuinfo dump as a root without a devicetree. */
async function fixtureRoots(t: ExecutionContext): Promise<string[]> {
  const roots = (await readdir(path.join(fixtures, 'roots'))).map((r) => path.join(fixtures, 'roots', r));
  const scratch = await tempDir(t, 'rrn-dra-roots-');
  for (const dump of await readdir(path.join(fixtures, 'cpuinfo'))) {
    const root = path.join(scratch, dump.replace(/\.txt$/, ''));
    await mkdir(path.join(root, 'proc'), { recursive: true });
    await cp(path.join(fixtures, 'cpuinfo', dump), path.join(root, 'proc', 'cpuinfo'));
    roots.push(root);
  }
  return roots.sort();
}

const EXPECTED_KEYS = ['board', 'harts', 'mvendorid', 'marchid', 'mimpid', 'resource', ...KNOWN_ISA_EXTENSIONS.map(isaAttribute)].sort();

function asFake(slice: Slice): FakeSlice {
  return { ...slice, metadata: { name: 'x', uid: '', resourceVersion: '', ...slice.metadata } } as unknown as FakeSlice;
}

test('attribute names are C identifiers of at most 32 characters, and with memory they fit the 32 per device', (t) => {
  for (const key of EXPECTED_KEYS) t.regex(key, /^[A-Za-z_][A-Za-z0-9_]{0,31}$/);
  t.true(EXPECTED_KEYS.length + 1 <= MAX_ATTRIBUTES);
});

test('no facts at all: every attribute is still there, as "", false and 0', (t) => {
  const attributes = boardAttributes({ labels: {}, memoryKiB: undefined });
  t.deepEqual(attributes['board'], { string: '' });
  t.deepEqual(attributes['harts'], { int: 0 });
  t.deepEqual(attributes['mvendorid'], { string: '' });
  t.deepEqual(attributes['isa_v'], { bool: false });
});

const memCases: Array<[string, number | undefined]> = [
  ['MemTotal:       16108172 kB\nMemFree: 1 kB\n', 16108172],
  ['MemFree: 1 kB\n', undefined],
  ['', undefined],
];
for (const [text, kib] of memCases) {
  test(`MemTotal of ${JSON.stringify(text.slice(0, 20))} is ${kib}`, (t) => t.is(parseMemTotal(text), kib));
}

const names: Array<[string, 'runner' | 'dev' | 'virtual', string, string]> = [
  ['riseproject.com/runner', 'runner', 'runner-0', 'runner-0'],
  ['smarter-devices/ttyUSB0', 'dev', '0', 'ttyusb0-0'],
  ['smarter-devices/net_tun', 'dev', '1', 'net-tun-1'],
  ['example.com/widget', 'virtual', 'w-1', 'widget-w-1'],
];
for (const [resource, kind, id, expected] of names) {
  test(`device name of ${resource} ${id} is ${kind === 'runner' ? 'its ID' : 'a DNS label'}`, (t) => {
    const name = deviceName({ kind, name: resource }, id, new Set());
    // Changed names get a hash; the readable part is kept in front.
    t.true(name === expected || name.startsWith(`${expected}-`), name);
    t.regex(name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });
}

test('clashing device names stay unique', (t) => {
  const taken = new Set<string>();
  const a = deviceName({ kind: 'virtual', name: 'x.com/w' }, 'A', taken);
  taken.add(a);
  const b = deviceName({ kind: 'virtual', name: 'x.com/w' }, 'a', taken);
  t.not(a, b);
});

test('a resource dra.resources names but this node lacks is a warning naming it, not a device', (t) => {
  const found = draDevices([], ['example.com/nothing'], { labels: {}, memoryKiB: 1 });
  t.deepEqual(found.devices, []);
  t.regex(found.warnings[0] ?? '', /dra\.resources names example\.com\/nothing, which this node does not have/);
});

const virtualId = fc.stringMatching(/^[A-Za-z0-9._:-]{1,70}$/);
const configArb = fc.record({
  deviceCount: fc.integer({ min: 1, max: 300 }),
  ids: fc.uniqueArray(virtualId, { minLength: 0, maxLength: 20 }),
  boardMap: fc.dictionary(fc.constantFrom('spacemit,k1-x', 'sophgo,mango', 'starfive,visionfive-2-v1.3b'), fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,40}[a-z0-9])?$/)),
  fleet: fc.boolean(),
});

test('property: for every fixture board and config, every published device has every attribute, and the slices are valid', async (t) => {
  const roots = await fixtureRoots(t);
  const empty = await tempDir(t, 'rrn-dra-empty-');
  await writeFile(path.join(empty, 'not-a-root'), '');
  roots.push(empty);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...roots), configArb, async (root, c) => {
      const config: Config = defaultConfig();
      config.deviceplugin.deviceCount = c.deviceCount;
      config.labeller.boardMap = c.boardMap;
      config.labeller.boardNames = c.fleet ? 'fleet' : 'original';
      config.deviceplugin.virtual = {
        file: undefined,
        deviceMapping: [{ hosts: ['rv-1'], devices: c.ids.map((instanceID) => ({ resourceName: 'example.com/widget', instanceID, env: {} })) }],
      };
      config.dra.resources = ['riseproject.com/runner', 'example.com/widget'];
      const found = await discoverDra({ config, root, devDir: path.join(root, 'dev'), devicePluginDir: '/var/lib/kubelet/device-plugins', nodeName: 'rv-1', hostName: 'rv-1', maintenance: false });
      t.is(found.devices.length, c.deviceCount + c.ids.length);
      for (const d of found.devices) t.deepEqual(Object.keys(d.attributes).sort(), EXPECTED_KEYS);
      const id = { driver: 'runner.riseproject.dev', nodeName: 'rv-1', nodeUid: 'uid-rv-1' };
      const chunks = chunkDevices(found.devices);
      t.true(chunks.every((ch) => ch.length <= 128));
      for (const chunk of chunks) t.deepEqual(sliceProblems(asFake(sliceFor(id, chunk, 0, chunks.length))), []);
      const plan = planSlices(id, [], found.devices, 0);
      t.is(plan.writes.length, chunks.length);
    }),
    { numRuns: 60 },
  );
});

test('maintenance withdraws the runner devices; the board comes back with the flag gone', async (t) => {
  const config = defaultConfig();
  config.dra.resources = ['riseproject.com/runner'];
  const input = { config, root: path.join(fixtures, 'roots', 'jupiter'), devDir: '/nonexistent', devicePluginDir: '/var/lib/kubelet/device-plugins', nodeName: 'rv-1', hostName: 'rv-1' };
  t.is((await discoverDra({ ...input, maintenance: true })).devices.length, 0);
  const back = await discoverDra({ ...input, maintenance: false });
  t.deepEqual(back.devices.map((d) => d.name), ['runner-0']);
  t.like(back.devices[0]?.attributes, { board: { string: 'cloudv10x-jupiter' }, isa_v: { bool: true }, isa_xtheadvector: { bool: false }, harts: { int: 8 } });
  t.deepEqual(back.devices[0]?.capacity, { memory: { value: '16108172Ki' } });
});

test('a prepared device gets the environment the plugin would: allocateEnv, and spookd\'s variables for all of a request\'s devices at once', async (t) => {
  const config = defaultConfig();
  config.deviceplugin.allocateEnv = { RUNNER_POOL: 'rise' };
  config.deviceplugin.virtual = {
    file: undefined,
    deviceMapping: [{ hosts: ['rv-1'], devices: ['a', 'b'].map((id) => ({ resourceName: 'example.com/licence', instanceID: id, env: { SEAT: `seat-${id}` } })) }],
  };
  config.dra.resources = ['riseproject.com/runner', 'example.com/licence'];
  const found = await discoverDra({ config, root: path.join(fixtures, 'roots', 'jupiter'), devDir: '/nonexistent', devicePluginDir: '/var/lib/kubelet/device-plugins', nodeName: 'rv-1', hostName: 'rv-1', maintenance: false });
  t.deepEqual(found.devices.map((d) => [d.name, d.id]), [['runner-0', 'runner-0'], ['licence-a', 'a'], ['licence-b', 'b']]);
  t.deepEqual(resourceEnv(found.resources, 'riseproject.com/runner', ['runner-0']), { RUNNER_POOL: 'rise' });
  t.deepEqual(resourceEnv(found.resources, 'example.com/licence', ['b', 'a']), {
    EXAMPLECOM_LICENCE_NUM_DEVICES: '2',
    EXAMPLECOM_LICENCE_DEV0_ID: 'b',
    EXAMPLECOM_LICENCE_DEV0_TYPE: 'example.com/licence',
    EXAMPLECOM_LICENCE_DEV0_SEAT: 'seat-b',
    EXAMPLECOM_LICENCE_ID: 'b',
    EXAMPLECOM_LICENCE_TYPE: 'example.com/licence',
    EXAMPLECOM_LICENCE_SEAT: 'seat-b',
    EXAMPLECOM_LICENCE_DEV1_ID: 'a',
    EXAMPLECOM_LICENCE_DEV1_TYPE: 'example.com/licence',
    EXAMPLECOM_LICENCE_DEV1_SEAT: 'seat-a',
  });
  t.throws(() => resourceEnv(found.resources, 'example.com/licence', ['c']), { message: /unknown device 'c' for example.com\/licence/ });
  t.throws(() => resourceEnv(found.resources, 'example.com/gone', ['a']), { message: 'example.com/gone is not served by this node now' });
});

// ---- planning writes ----

const ID = { driver: 'runner.riseproject.dev', nodeName: 'rv-1', nodeUid: 'uid-rv-1' };

function stored(plan: ReturnType<typeof planSlices>, names: string[]): Slice[] {
  return plan.writes.map((w, i) => {
    if (w.op === 'delete') throw new Error('unexpected delete');
    return { ...w.slice, metadata: { ...w.slice.metadata, name: names[i] ?? `s${i}`, resourceVersion: '1' } };
  });
}

function devicesOf(n: number, board = 'b') {
  return draDevices(
    [{ kind: 'runner', name: 'riseproject.com/runner', socketName: 's', origin: 'o', grant: { kind: 'env', env: {} }, devices: Array.from({ length: n }, (_, i) => ({ ID: `runner-${i}`, health: 'Healthy' as const })) }],
    ['riseproject.com/runner'],
    { labels: { 'riseproject.dev/board': board }, memoryKiB: 1 },
  ).devices;
}

test('plan: nothing stored creates one slice per 128 devices at generation 0; the same again writes nothing', (t) => {
  const plan = planSlices(ID, [], devicesOf(200), 0);
  t.deepEqual(plan.writes.map((w) => w.op), ['create', 'create']);
  t.is(plan.generation, 0);
  const again = planSlices(ID, stored(plan, ['a', 'b']), devicesOf(200), plan.generation);
  t.deepEqual(again.writes, []);
});

test('plan: a deleted slice is created again at the same generation; a wiped pool comes back whole', (t) => {
  const first = planSlices(ID, [], devicesOf(200), 3);
  const both = stored(first, ['a', 'b']);
  const repair = planSlices(ID, [both[0] as Slice], devicesOf(200), first.generation);
  t.deepEqual(repair.writes.map((w) => w.op), ['create']);
  t.is(repair.generation, 3);
  const wiped = planSlices(ID, [], devicesOf(200), first.generation);
  t.is(wiped.writes.length, 2);
  t.is(wiped.generation, 3);
});

test('plan: changed devices update every slice with the next generation, and a slice no longer needed goes', (t) => {
  const first = planSlices(ID, [], devicesOf(200), 0);
  const changed = planSlices(ID, stored(first, ['a', 'b']), devicesOf(100, 'other'), 0);
  t.deepEqual(changed.writes.map((w) => w.op), ['update', 'delete']);
  t.is(changed.generation, 1);
  const update = changed.writes[0];
  t.true(update?.op === 'update' && update.slice.spec.pool.generation === 1 && update.slice.spec.pool.resourceSliceCount === 1 && update.slice.metadata.resourceVersion === '1');
});

test("plan: another driver's slices and another node's are never touched", (t) => {
  const foreign: Slice = { ...sliceFor({ ...ID, driver: 'gpu.example.com' }, [], 0, 1), metadata: { name: 'gpu' } };
  const plan = planSlices(ID, [foreign], devicesOf(1), 0);
  t.deepEqual(plan.writes.map((w) => w.op), ['create']);
});

test('the device plugin daemon is told which resources are the DRA driver\'s, and reloads keep telling it', async (t) => {
  const { resolveDevicePluginSettings } = await import('../../src/deviceplugin/command.js');
  const dir = await tempDir(t, 'rrn-dra-dp-');
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, 'dra:\n  resources: [riseproject.com/runner]\n');
  const { settings } = await resolveDevicePluginSettings({ config: file, devicePluginDir: dir } as Parameters<typeof resolveDevicePluginSettings>[0]);
  t.deepEqual(settings.config.handedToDra, ['riseproject.com/runner']);
  await writeFile(file, 'dra:\n  resources: []\n');
  t.deepEqual((await settings.reloadConfig?.())?.handedToDra, []);
  const { discover } = await import('../../src/deviceplugin/sources/index.js');
  const found = await discover({ config: { ...settings.config, handedToDra: ['riseproject.com/runner'] }, names: { nodeName: 'n', hostName: 'n' }, devDir: dir, socketDir: dir, maintenance: false, previous: [] });
  t.deepEqual(found.resources, []);
  t.deepEqual(found.handedToDra, ['riseproject.com/runner']);
});

test('docs/examples/dra.yaml: v1 requests with exactly:, and every attribute its selectors read is one every device has', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { parseAllDocuments } = await import('yaml');
  const text = await readFile(path.resolve(here, '../../../docs/examples/dra.yaml'), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { spec?: { devices: { requests: Array<Record<string, unknown>> } } } });
  t.deepEqual(docs.map((d) => d.kind), ['DeviceClass', 'ResourceClaimTemplate', 'ResourceClaimTemplate', 'ResourceClaimTemplate']);
  const pod = parseAllDocuments(await readFile(path.resolve(here, '../../../docs/examples/dra-runner-pod.yaml'), 'utf8'))[0]?.toJS() as {
    spec: { resourceClaims: Array<{ name: string; resourceClaimTemplateName: string }>; containers: Array<{ resources: { claims: Array<{ name: string }> } }> };
  };
  const claim = pod.spec.resourceClaims[0];
  t.true(docs.some((d) => d.metadata.name === claim?.resourceClaimTemplateName), 'the pod uses a template of dra.yaml');
  t.is(pod.spec.containers[0]?.resources.claims[0]?.name, claim?.name, 'its container lists the claim');
  for (const d of docs.filter((x) => x.kind === 'ResourceClaimTemplate')) {
    for (const r of d.spec.spec?.devices.requests ?? []) t.truthy(r['exactly'], 'resource.k8s.io/v1 wraps a request in exactly:');
  }
  const read = [...text.matchAll(/device\.attributes\["([^"]+)"\]\.(\w+)/g)];
  t.true(read.length >= 3);
  for (const [, domain, attribute] of read) {
    t.is(domain, 'runner.riseproject.dev');
    t.true(EXPECTED_KEYS.includes(attribute ?? ''), `${attribute} is published on every device`);
  }
});

test("a PCI pool's function gives its own device nodes to its DRA device, and they count for a clash with the device plugin", async (t) => {
  const { splitByApi } = await import('../../src/deviceplugin/sources/index.js');
  const grant = (nodes: string[]) => ({ fn: {} as never, nodes, info: {} });
  const pool = {
    kind: 'pci' as const, name: 'intel.com/vfio_pool', socketName: 's', origin: 'deviceplugin.pci.resourceList[0]',
    devices: [{ ID: '0000:01:00.0', health: 'Healthy' as const }, { ID: '0000:01:00.1', health: 'Healthy' as const }],
    grant: { kind: 'pci' as const, envName: 'PCIDEVICE_INTEL_COM_VFIO_POOL', devices: { '0000:01:00.0': grant(['/dev/vfio/7']), '0000:01:00.1': grant(['/dev/vfio/8']) }, cdiKind: undefined, allowCrossNuma: true },
  };
  const found = draDevices([pool], ['intel.com/vfio_pool'], { labels: {}, memoryKiB: 1 });
  t.deepEqual(found.devices.map((d) => [d.name, d.deviceNodes]), [['vfio-pool-0000-01-00-0', ['/dev/vfio/7']], ['vfio-pool-0000-01-00-1', ['/dev/vfio/8']]]);
  const vfioDir = { kind: 'dev' as const, name: 'smarter-devices/vfio', socketName: 'v', origin: 'deviceplugin.dev.devices[0]', devices: [{ ID: '0', health: 'Healthy' as const }], grant: { kind: 'deviceNodes' as const, paths: ['/dev/vfio/7', '/dev/vfio/8'] } };
  const split = splitByApi([pool, vfioDir], ['intel.com/vfio_pool']);
  t.deepEqual(split.plugin, []);
  t.regex(split.clashes[0] ?? '', /\/dev\/vfio\/7 would be offered both through DRA \(intel\.com\/vfio_pool/);
});
