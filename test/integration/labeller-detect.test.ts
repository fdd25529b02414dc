// `riscv-runner-node detect` as a user runs it: a child process over each fixture board root.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const cli = path.resolve('dist/src/cli.js');
const fixtures = path.resolve('test/fixtures');
const emptyConfig = path.join(fixtures, 'labeller/empty-config.yaml');

const ROOTS = ['visionfive2', 'milkv-pioneer', 'scw-em-rv1', 'jupiter', 'qemu-virt', 'no-devicetree', 'spacemit-k3', 'spacemit-v100', 'zhihe-a210'];

for (const board of ROOTS) {
  test(`detect --json --root test/fixtures/roots/${board}`, async (t) => {
    const { stdout } = await run(process.execPath, [cli, 'detect', '--json', '--config', emptyConfig, '--root', path.join(fixtures, 'roots', board)]);
    const expected: unknown = JSON.parse(await readFile(path.join(fixtures, 'detect', `${board}.json`), 'utf8'));
    t.deepEqual(JSON.parse(stdout), expected);
  });
}

test('detect prints key=value lines and warns on stderr when there is no devicetree', async (t) => {
  const { stdout, stderr } = await run(process.execPath, [cli, 'detect', '--config', emptyConfig, '--root', path.join(fixtures, 'roots/no-devicetree')]);
  t.regex(stdout, /^riseproject\.dev\/harts=4$/m);
  t.notRegex(stdout, /board/);
  t.regex(stderr, /warning: no devicetree compatible found/);
});

test('detect without a devicetree says this is not a RISC-V devicetree system and how to try a sample board', async (t) => {
  // As a newcomer on an x86 laptop meets it: run from the clone, a root with cpuinfo and no devicetree.
  const { stdout, stderr } = await run(process.execPath, [cli, 'detect', '--config', emptyConfig, '--root', 'test/fixtures/roots/no-devicetree']);
  t.regex(stdout, /harts=4/);
  t.regex(stderr, /test\/fixtures\/roots\/no-devicetree has no devicetree .*: it is not a RISC-V devicetree system/);
  const hint = /To try a sample board: detect --root test\/fixtures\/roots\/<board>, with <board> one of: (.*)$/m.exec(stderr);
  t.truthy(hint, stderr);
  t.deepEqual(hint?.[1]?.split(', '), [...ROOTS].sort());
  const board = await run(process.execPath, [cli, 'detect', '--config', emptyConfig, '--root', 'test/fixtures/roots/scw-em-rv1']);
  t.notRegex(board.stderr, /not a RISC-V devicetree system/);
});

test('the hint from an installed copy, with no samples beside it, says where the samples are', async (t) => {
  const { runDetectCommand } = await import('../../src/labeller/command.js');
  let err = '';
  const rt = { stdout: () => undefined, stderr: (s: string) => void (err += s) } as unknown as import('../../src/common/runtime.js').Runtime;
  const code = await runDetectCommand({ config: emptyConfig, root: path.join(fixtures, 'roots/no-devicetree'), json: false, sampleRoots: '/nonexistent/roots' }, rt);
  t.is(code, 0);
  t.regex(err, /not a RISC-V devicetree system.*\nTo try a sample board, run from a clone of the source: node dist\/src\/cli\.js detect --root test\/fixtures\/roots\/<board>\n/);
});

const fleetConfig = path.join(fixtures, 'labeller/fleet.yaml');
const fleetBoards: Array<[string, string | undefined, RegExp]> = [
  ['jupiter', 'spacemit-k1', /hart IDs 0x710:0x8000000058000001:0x1000000049772200 .*fleet table/],
  ['spacemit-k3', 'spacemit-k3', /hart IDs 0x710:0x8000000058000002:0x33d8a600/],
  ['spacemit-v100', 'spacemit-v100', /hart IDs 0x710:0x8000000058000002:0x4c4d900/],
  ['scw-em-rv1', 'scaleway-em-rv1', /starts with 'scaleway,em-rv1'/],
  ['zhihe-a210', 'zhihe-a210', /starts with 'zhihe,a210'/],
  ['milkv-pioneer', undefined, /never guesses/],
];

for (const [board, expected, why] of fleetBoards) {
  test(`detect with labeller.boardNames fleet on ${board}: ${expected ?? 'no board label'}, and says why`, async (t) => {
    const { stdout, stderr } = await run(process.execPath, [cli, 'detect', '--json', '--config', fleetConfig, '--root', path.join(fixtures, 'roots', board)]);
    const labels = JSON.parse(stdout) as Record<string, string>;
    t.is(labels['riseproject.dev/board'], expected);
    t.regex(stderr, why);
    if (expected !== undefined) t.regex(stderr, new RegExp(`^board: riseproject\\.dev/board=${expected}: .*\\(labeller\\.boardNames: fleet\\)$`, 'm'));
    else t.regex(stderr, /^warning: .*: no riseproject\.dev\/board label; labeller\.boardNames fleet never guesses/m);
  });
}

test('detect with a config that maps the board and turns families off', async (t) => {
  const { stdout } = await run(process.execPath, [cli, 'detect', '--json', '--config', path.join(fixtures, 'labeller/board-only.yaml'), '--root', path.join(fixtures, 'roots/visionfive2')]);
  t.deepEqual(JSON.parse(stdout), { 'riseproject.dev/board': 'visionfive2' });
});

test('detect with a bad config exits 78 naming file and key', async (t) => {
  const bad = path.join(fixtures, 'labeller/bad-config.yaml');
  const err = await t.throwsAsync(run(process.execPath, [cli, 'detect', '--config', bad, '--root', path.join(fixtures, 'roots/visionfive2')]));
  t.is((err as unknown as { code: number }).code, 78);
  t.regex((err as unknown as { stderr: string }).stderr, /bad-config\.yaml: labeller\.labels\.isa must be true or false/);
});
