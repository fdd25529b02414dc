// Discovery from fixture roots: the board table, cpuinfo extensions, families switched off.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { defaultConfig, type LabellerConfig } from '../../src/common/config.js';
import {
  boardLabelFor,
  cpuLabels,
  discoverLabels,
  isaExtensions,
  parseCompatible,
  parseCpuinfo,
  readCompatible,
} from '../../src/labeller/discovery.js';
import { nfdFeaturesText, writeNfdFeatures } from '../../src/labeller/nfd.js';

const fixtures = path.resolve('test/fixtures');
const families = defaultConfig().labeller.labels;

function config(patch: Partial<LabellerConfig> = {}): LabellerConfig {
  return { ...defaultConfig().labeller, ...patch };
}

const boards: Array<[string, string, Record<string, string>, string | undefined]> = [
  ['built-in EM-RV1', 'scaleway,em-rv1-c4m16s128-a\0thead,th1520\0', {}, 'scw-em-rv1'],
  ['built-in Pioneer vendor kernel', 'sophgo,mango\0', {}, 'cloudv10x-pioneer'],
  ['built-in Jupiter vendor kernel', 'spacemit,k1-x\0', {}, 'cloudv10x-jupiter'],
  ['a known entry after an unknown one', 'milkv,pioneer\0sophgo,mango\0', {}, 'cloudv10x-pioneer'],
  ['unknown board: first entry sanitised', 'Foo,Bar Baz\0', {}, 'foo-bar-baz'],
  ['QEMU', 'riscv-virtio\0', {}, 'riscv-virtio'],
  ['upstream Pioneer, unknown', 'milkv,pioneer\0sophgo,sg2042\0', {}, 'milkv-pioneer'],
  ['config adds an entry', 'milkv,pioneer\0sophgo,sg2042\0', { 'sophgo,sg2042': 'pioneer' }, 'pioneer'],
  ['config overrides a built-in entry', 'sophgo,mango\0', { 'sophgo,mango': 'mango' }, 'mango'],
  ['config entry matched first in compatible order', 'sophgo,mango\0x,y\0', { 'x,y': 'xy' }, 'cloudv10x-pioneer'],
  ['empty file', '', {}, undefined],
  ['only NULs', '\0\0\0', {}, undefined],
  ['no trailing NUL', 'spacemit,k1-x', {}, 'cloudv10x-jupiter'],
  ['whitespace around entries', '  spacemit,k1-x \n\0', {}, 'cloudv10x-jupiter'],
  ['empty entries skipped', '\0\0riscv-virtio\0', {}, 'riscv-virtio'],
  ['garbage only', '+++\0', {}, undefined],
];

for (const [name, compatible, map, expected] of boards) {
  test(`board label: ${name}`, (t) => {
    t.is(boardLabelFor(parseCompatible(Buffer.from(compatible, 'latin1')), map), expected);
  });
}

test('compatible is read from /sys first, then /proc/device-tree, and is undefined when both are missing', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'labeller-dt-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  t.is(await readCompatible(root), undefined);
  await mkdir(path.join(root, 'proc/device-tree'), { recursive: true });
  await writeFile(path.join(root, 'proc/device-tree/compatible'), 'b,proc\0');
  t.deepEqual(await readCompatible(root), ['b,proc']);
  await mkdir(path.join(root, 'sys/firmware/devicetree/base'), { recursive: true });
  await writeFile(path.join(root, 'sys/firmware/devicetree/base/compatible'), 'a,sys\0');
  t.deepEqual(await readCompatible(root), ['a,sys']);
});

test('no devicetree at all: no board label, one clear warning, CPU labels still there', async (t) => {
  const found = await discoverLabels(path.join(fixtures, 'roots/no-devicetree'), config());
  t.false('riseproject.dev/board' in found.labels);
  t.is(found.warnings.length, 1);
  t.regex(found.warnings[0] ?? '', /no devicetree compatible found.*no riseproject\.dev\/board label/);
  t.is(found.labels['riseproject.dev/harts'], '4');
});

test('an empty root: no labels, warnings, no throw', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'labeller-empty-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const found = await discoverLabels(root, config());
  t.deepEqual(found.labels, {});
  t.is(found.warnings.length, 2);
});

test('VisionFive 2 cpuinfo: extensions common to all harts, 4 harts, uarch', async (t) => {
  const harts = parseCpuinfo(await readFile(path.join(fixtures, 'cpuinfo/visionfive2.txt'), 'utf8'));
  t.is(harts.length, 4);
  const labels = cpuLabels(harts, families);
  const isa = Object.keys(labels).filter((k) => k.startsWith('riseproject.dev/isa.')).map((k) => k.slice('riseproject.dev/isa.'.length));
  t.deepEqual(isa, ['a', 'c', 'd', 'f', 'i', 'm', 'zba', 'zbb', 'zicntr', 'zicsr', 'zifencei', 'zihpm']);
  t.true(Object.entries(labels).filter(([k]) => k.includes('/isa.')).every(([, v]) => v === 'true'));
  t.is(labels['riseproject.dev/harts'], '4');
  t.is(labels['riseproject.dev/uarch'], 'sifive-u74-mc');
});

test('Milk-V Pioneer cpuinfo: T-Head vector is xtheadvector, never v', async (t) => {
  const harts = parseCpuinfo(await readFile(path.join(fixtures, 'cpuinfo/milkv-pioneer.txt'), 'utf8'));
  t.is(harts.length, 64);
  const labels = cpuLabels(harts, families);
  t.is(labels['riseproject.dev/isa.xtheadvector'], 'true');
  t.false('riseproject.dev/isa.v' in labels);
  t.false('riseproject.dev/uarch' in labels);
  t.is(labels['riseproject.dev/harts'], '64');
});

test('a non-T-Head core keeps v', (t) => {
  const labels = cpuLabels([{ processor: '0', isa: 'rv64imafdcv_zvfh', uarch: undefined, mvendorid: '0x710' }], families);
  t.is(labels['riseproject.dev/isa.v'], 'true');
  t.false('riseproject.dev/isa.xtheadvector' in labels);
});

test('only extensions every hart has are labelled', (t) => {
  const labels = cpuLabels(
    [
      { processor: '0', isa: 'rv64imac_zba', uarch: undefined, mvendorid: undefined },
      { processor: '1', isa: 'rv64imafdc_zba_zbb', uarch: undefined, mvendorid: undefined },
    ],
    families,
  );
  t.deepEqual(Object.keys(labels).filter((k) => k.includes('/isa.')), [
    'riseproject.dev/isa.a',
    'riseproject.dev/isa.c',
    'riseproject.dev/isa.i',
    'riseproject.dev/isa.m',
    'riseproject.dev/isa.zba',
  ]);
});

test('isa strings: g expands, unknown and odd extensions are tolerated', (t) => {
  t.deepEqual([...isaExtensions('rv64gc')].sort(), ['a', 'c', 'd', 'f', 'i', 'm', 'zicsr', 'zifencei']);
  t.deepEqual([...isaExtensions('rv64i_xfoo_zvl128b__Ssnew')].sort(), ['i', 'ssnew', 'xfoo', 'zvl128b']);
  t.deepEqual([...isaExtensions('')], []);
  const labels = cpuLabels([{ processor: '0', isa: 'rv64i_x+weird_' + 'z'.repeat(80), uarch: 'Vendor,Core 1', mvendorid: undefined }], families);
  t.true(Object.keys(labels).every((k) => k.length <= 'riseproject.dev/'.length + 63));
  t.is(labels['riseproject.dev/uarch'], 'vendor-core-1');
});

test('every family can be turned off', async (t) => {
  const root = path.join(fixtures, 'roots/visionfive2');
  const off = { board: false, isa: false, harts: false, uarch: false, devicetree: false, cpu: false };
  t.deepEqual((await discoverLabels(root, config({ labels: off }))).labels, {});
  t.deepEqual(Object.keys((await discoverLabels(root, config({ labels: { ...off, harts: true } }))).labels), ['riseproject.dev/harts']);
  t.deepEqual(Object.keys((await discoverLabels(root, config({ labels: { ...off, board: true } }))).labels), ['riseproject.dev/board']);
});

test('devicetree labels in the k8s-dt-node-labeller style, for / and configured nodes', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'labeller-dtl-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const base = path.join(root, 'sys/firmware/devicetree/base');
  await mkdir(path.join(base, 'soc/gpu@0'), { recursive: true });
  await writeFile(path.join(base, 'compatible'), 'milkv,pioneer\0sophgo,sg2042\0');
  await writeFile(path.join(base, 'soc/gpu@0/compatible'), 'img,bxm-4-64\0');
  const off = { board: false, isa: false, harts: false, uarch: false, devicetree: true, cpu: false };
  const found = await discoverLabels(root, config({ labels: off, devicetreeNodes: ['/soc/gpu@0', '/soc/missing'] }));
  t.deepEqual(found.labels, {
    'beta.devicetree.org/img-bxm-4-64': '1',
    'beta.devicetree.org/milkv-pioneer': '1',
    'beta.devicetree.org/sophgo-sg2042': '1',
  });
  t.is(found.warnings.length, 1);
});

test('the NFD features file is written through a dot-file and renamed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'labeller-nfd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'features.d', 'riscv-runner-node');
  await writeNfdFeatures(file, { 'riseproject.dev/board': 'x', 'riseproject.dev/harts': '4' });
  const text = await readFile(file, 'utf8');
  t.is(text, nfdFeaturesText({ 'riseproject.dev/board': 'x', 'riseproject.dev/harts': '4' }));
  t.true(text.includes('riseproject.dev/board=x\nriseproject.dev/harts=4\n'));
  const { readdir } = await import('node:fs/promises');
  t.deepEqual(await readdir(path.dirname(file)), ['riscv-runner-node']);
});

test('devicetreeNodes by name, as k8s-dt-node-labeller takes -n gpu pwm-fan, give the labels the paths give', async (t) => {
  const root = path.join(fixtures, 'devicetree-nodes');
  const dtOnly = { board: false, isa: false, harts: false, uarch: false, devicetree: true, cpu: false };
  const byPath = await discoverLabels(root, config({ labels: dtOnly, devicetreeNodes: ['/soc/gpu@0', '/pwm-fan'] }));
  const byName = await discoverLabels(root, config({ labels: dtOnly, devicetreeNodes: ['gpu', 'pwm-fan'] }));
  t.deepEqual(byName.labels, byPath.labels);
  t.deepEqual(byName.labels, {
    'beta.devicetree.org/img-img-bxm-4-64': '1',
    'beta.devicetree.org/pwm-fan': '1',
    'beta.devicetree.org/scaleway-em-rv1-c4m16s128-a': '1',
    'beta.devicetree.org/thead-th1520': '1',
    'beta.devicetree.org/thead-th1520-gpu': '1',
  });
  t.false('beta.devicetree.org/thead-th1520-clk-vo' in byName.labels, 'gpu-clk@… is not named gpu');
  t.deepEqual(byName.warnings, []);
  const unit = await discoverLabels(root, config({ labels: dtOnly, devicetreeNodes: ['gpu@0', 'gpu-clk'] }));
  t.is(unit.labels['beta.devicetree.org/thead-th1520-gpu'], '1', 'a name with @ matches that node exactly');
  t.is(unit.labels['beta.devicetree.org/thead-th1520-clk-vo'], '1');
  const missing = await discoverLabels(root, config({ labels: dtOnly, devicetreeNodes: ['npu', 'cpus'] }));
  t.deepEqual(missing.warnings, [
    'devicetree node name npu matches no node: no labels from it',
    'devicetree node name cpus matches /cpus, none with a compatible property: no labels from it',
  ]);
});
