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

for (const board of ['visionfive2', 'milkv-pioneer', 'scw-em-rv1', 'jupiter', 'qemu-virt', 'no-devicetree']) {
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
