// Board names in both schemes, over cpuinfo fixtures with the fleet's hart IDs and devicetree fixtures.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { defaultConfig, type BoardNames } from '../../src/common/config.js';
import { canonicalHex, chooseBoard, parseHartIdKey } from '../../src/labeller/boards.js';
import { discoverLabels, firstHartIds, parseCpuinfo } from '../../src/labeller/discovery.js';
import { tempDir } from '../helpers/tmp.js';

const fixtures = path.resolve('test/fixtures');
const BOARD = 'riseproject.dev/board';

const K1 = 'roots/jupiter/proc/cpuinfo';
const K3 = 'cpuinfo/spacemit-k3.txt';
const V100 = 'cpuinfo/spacemit-v100.txt';
const MIXED = 'cpuinfo/heterogeneous.txt';
const NO_IDS = 'cpuinfo/no-hart-ids.txt';
const TH1520 = 'roots/scw-em-rv1/proc/cpuinfo';
const SG2042 = 'cpuinfo/milkv-pioneer.txt';

/** name, cpuinfo fixture, root compatible (undefined: no devicetree), boardMap, board in `original`, board in `fleet`. */
type Row = [string, string, string | undefined, Record<string, string>, string | undefined, string | undefined];

const rows: Row[] = [
  ['K1, vendor kernel', K1, 'spacemit,k1-x\0', {}, 'cloudv10x-jupiter', 'spacemit-k1'],
  ['K1, upstream kernel', K1, 'milkv,jupiter\0spacemit,k1\0', {}, 'milkv-jupiter', 'spacemit-k1'],
  ['K1 without a devicetree: the hart IDs alone name it', K1, undefined, {}, undefined, 'spacemit-k1'],
  ['K3', K3, 'spacemit,k3-pico-itx\0spacemit,k3\0', {}, 'spacemit-k3-pico-itx', 'spacemit-k3'],
  ['K3 on a kernel without hart IDs: the devicetree prefix', NO_IDS, 'spacemit,k3-pico-itx\0spacemit,k3\0', {}, 'spacemit-k3-pico-itx', 'spacemit-k3'],
  ['V100', V100, 'spacemit,v100-evb\0', {}, 'spacemit-v100-evb', 'spacemit-v100'],
  ['heterogeneous harts: the first hart counts', MIXED, 'vendor,board\0', {}, 'vendor-board', 'spacemit-k3'],
  ['EM-RV1', TH1520, 'scaleway,em-rv1-c4m16s128-a\0thead,th1520\0', {}, 'scw-em-rv1', 'scaleway-em-rv1'],
  ['A210 on a kernel without hart IDs', NO_IDS, 'zhihe,a210-evb\0zhihe,a210\0', {}, 'zhihe-a210-evb', 'zhihe-a210'],
  ['Pioneer: unknown to the fleet', SG2042, 'milkv,pioneer\0sophgo,mango\0', {}, 'cloudv10x-pioneer', undefined],
  ['QEMU: unknown to the fleet', 'roots/qemu-virt/proc/cpuinfo', 'riscv-virtio\0', {}, 'riscv-virtio', undefined],
  ['unknown IDs and no devicetree', SG2042, undefined, {}, undefined, undefined],
  ['a prefix must start the entry', K3, 'acme,spacemit,k3\0', {}, 'acme-spacemit-k3', 'spacemit-k3'],
  ['boardMap: a hart-ID triple', SG2042, 'milkv,pioneer\0', { '0x5b7:0x0:0x0': 'sg2042' }, 'sg2042', 'sg2042'],
  ['boardMap: a triple spelled with capitals and leading zeros', K3, undefined, { '0x0710:0X8000000058000002:0x33D8A600': 'k3' }, 'k3', 'k3'],
  ['boardMap: a triple keeps the original name in fleet mode', K1, 'spacemit,k1-x\0', { '0x710:0x8000000058000001:0x1000000049772200': 'cloudv10x-jupiter' }, 'cloudv10x-jupiter', 'cloudv10x-jupiter'],
  ['boardMap: a compatible entry is a prefix in fleet mode', SG2042, 'milkv,pioneer\0sophgo,mango\0', { 'sophgo,mango': 'cloudv10x-pioneer' }, 'cloudv10x-pioneer', 'cloudv10x-pioneer'],
  ['boardMap wins over the built-in prefix', TH1520, 'scaleway,em-rv1-c4m16s128-a\0', { 'scaleway,em-rv1-c4m16s128-a': 'scw-em-rv1' }, 'scw-em-rv1', 'scw-em-rv1'],
  ['boardMap: hart IDs are tried before the devicetree', K3, 'spacemit,k3\0', { 'spacemit,k3': 'by-dt', '0x710:0x8000000058000002:0x33d8a600': 'by-ids' }, 'by-ids', 'by-ids'],
];

async function root(t: ExecutionContext, cpuinfo: string, compatible: string | undefined): Promise<string> {
  const dir = await tempDir(t, 'rrn-board-');
  await mkdir(path.join(dir, 'proc'));
  await writeFile(path.join(dir, 'proc/cpuinfo'), await readFile(path.join(fixtures, cpuinfo)));
  if (compatible !== undefined) {
    await mkdir(path.join(dir, 'sys/firmware/devicetree/base'), { recursive: true });
    await writeFile(path.join(dir, 'sys/firmware/devicetree/base/compatible'), Buffer.from(compatible, 'latin1'));
  }
  return dir;
}

function config(boardNames: BoardNames, boardMap: Record<string, string>) {
  return { ...defaultConfig().labeller, boardNames, boardMap };
}

for (const [name, cpuinfo, compatible, boardMap, original, fleet] of rows) {
  for (const [scheme, expected] of [['original', original], ['fleet', fleet]] as const) {
    test(`board names ${scheme}: ${name}`, async (t) => {
      const found = await discoverLabels(await root(t, cpuinfo, compatible), config(scheme, boardMap));
      t.is(found.labels[BOARD], expected);
      if (expected === undefined) {
        t.true(found.warnings.some((w) => w.includes(`no ${BOARD} label`)), found.warnings.join('\n'));
        if (scheme === 'fleet') t.true(found.warnings.some((w) => /never guesses/.test(w)), found.warnings.join('\n'));
        t.is(found.boardRule, undefined);
      } else {
        t.deepEqual(found.warnings, []);
        t.true(found.boardRule?.startsWith(`${BOARD}=${expected}: `), found.boardRule);
      }
    });
  }
}

test('the first hart gives the cpu labels and the board, and the rule says the harts differ', async (t) => {
  const found = await discoverLabels(await root(t, MIXED, undefined), config('fleet', {}));
  t.like(found.labels, {
    'riseproject.dev/cpu.mvendorid': '710',
    'riseproject.dev/cpu.marchid': '8000000058000002',
    'riseproject.dev/cpu.mimpid': '33d8a600',
    [BOARD]: 'spacemit-k3',
  });
  t.regex(found.boardRule ?? '', /hart IDs 0x710:0x8000000058000002:0x33d8a600 .* fleet table .*harts differ/);
  const byDt = await discoverLabels(await root(t, MIXED, 'vendor,board\0'), config('original', {}));
  t.notRegex(byDt.boardRule ?? '', /harts differ/, 'the note belongs to a board named by its hart IDs');
});

test('which rule chose the board is said for each kind of match', async (t) => {
  const ids = await discoverLabels(await root(t, K1, 'spacemit,k1-x\0'), config('fleet', {}));
  t.regex(ids.boardRule ?? '', /^riseproject\.dev\/board=spacemit-k1: hart IDs 0x710:0x8000000058000001:0x1000000049772200 .*in the fleet table$/);
  const prefix = await discoverLabels(await root(t, TH1520, 'scaleway,em-rv1-c4m16s128-a\0'), config('fleet', {}));
  t.regex(prefix.boardRule ?? '', /devicetree compatible 'scaleway,em-rv1-c4m16s128-a' starts with 'scaleway,em-rv1', which is in the fleet table/);
  const exact = await discoverLabels(await root(t, TH1520, 'scaleway,em-rv1-c4m16s128-a\0'), config('original', {}));
  t.regex(exact.boardRule ?? '', /devicetree compatible 'scaleway,em-rv1-c4m16s128-a' is in the original table/);
  const mapped = await discoverLabels(await root(t, SG2042, 'x,y\0'), config('original', { 'x,y': 'xy' }));
  t.regex(mapped.boardRule ?? '', /'x,y' is in labeller\.boardMap/);
  const guessed = await discoverLabels(await root(t, SG2042, 'x,y\0'), config('original', {}));
  t.regex(guessed.boardRule ?? '', /no table knows devicetree compatible 'x,y': the first entry made into a label value/);
});

test('cpu labels: lower-case hex without 0x; absent IDs give none; the family switches off', async (t) => {
  const k3 = await discoverLabels(await root(t, K3, undefined), config('original', {}));
  t.is(k3.labels['riseproject.dev/cpu.mimpid'], '33d8a600');
  const old = await discoverLabels(await root(t, NO_IDS, undefined), config('original', {}));
  t.deepEqual(Object.keys(old.labels).filter((k) => k.includes('/cpu.')), []);
  const off = await discoverLabels(await root(t, K3, undefined), { ...config('fleet', {}), labels: { ...defaultConfig().labeller.labels, cpu: false } });
  t.deepEqual(Object.keys(off.labels).filter((k) => k.includes('/cpu.')), []);
  t.is(off.labels[BOARD], 'spacemit-k3', 'the board still comes from the hart IDs');
});

test('hart IDs: spellings, missing fields, garbage', (t) => {
  t.is(canonicalHex('0x0710'), '0x710');
  t.is(canonicalHex(' 0X33D8A600 '), '0x33d8a600');
  t.is(canonicalHex('0x0'), '0x0');
  t.is(canonicalHex('710'), undefined);
  t.is(canonicalHex('0xzz'), undefined);
  t.is(canonicalHex('0x12345678901234567'), undefined, 'wider than 64 bits');
  t.deepEqual(parseHartIdKey('0x710:0x8000000058000002:0x33d8a600'), { mvendorid: '0x710', marchid: '0x8000000058000002', mimpid: '0x33d8a600' });
  t.is(parseHartIdKey('spacemit,k3'), undefined);
  t.is(firstHartIds(parseCpuinfo('processor : 0\nmvendorid : 0x710\nmarchid : 0x1\n')), undefined, 'mimpid missing');
  t.is(firstHartIds([]), undefined);
});

test('an unknown board in fleet mode: the warning names what was looked up', (t) => {
  const choice = chooseBoard({
    scheme: 'fleet',
    hartIds: { mvendorid: '0x5b7', marchid: '0x0', mimpid: '0x0' },
    compatible: ['milkv,pioneer', 'sophgo,mango'],
    boardMap: {},
  });
  t.is(choice.board, undefined);
  t.regex('problem' in choice ? choice.problem : '', /hart IDs 0x5b7:0x0:0x0 or devicetree compatible 'milkv,pioneer', 'sophgo,mango'/);
});
