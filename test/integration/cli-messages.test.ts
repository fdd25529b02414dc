// What the commands say to someone meeting them for the first time: maintenance, check-config, the README.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { runCheckConfigCommand } from '../../src/commands/check-config.js';
import type { Runtime } from '../../src/common/runtime.js';
import { tempDir } from '../helpers/tmp.js';

const execFileP = promisify(execFile);
const cli = path.resolve('dist/src/cli.js');
const emptyConfig = path.resolve('test/fixtures/labeller/empty-config.yaml');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [cli, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const maintenance = (...args: string[]): Promise<Result> => run(['maintenance', ...args, '--config', emptyConfig]);

test('maintenance on refuses a flag whose directory does not exist, with exit 78, and creates nothing', async (t) => {
  const dir = await tempDir(t, 'rrn-mt-');
  const flag = path.join(dir, 'no', 'such', 'dir', 'flag');
  const r = await maintenance('on', '--maintenance-file', flag);
  t.is(r.code, 78);
  t.regex(r.stderr, new RegExp(`refusing to create ${flag}: directory ${path.dirname(flag)} does not exist; check the path`));
  t.false(existsSync(path.join(dir, 'no')));
  const file = path.join(dir, 'file');
  await writeFile(file, '');
  const underFile = await maintenance('on', '--maintenance-file', path.join(file, 'flag'));
  t.is(underFile.code, 78);
  t.regex(underFile.stderr, /is not a directory/);
});

test('maintenance off when already off says so instead of "removed"', async (t) => {
  const flag = path.join(await tempDir(t, 'rrn-mt-'), 'maintenance');
  const r = await maintenance('off', '--maintenance-file', flag);
  t.is(r.code, 0);
  t.is(r.stdout, `maintenance off: already off (${flag} absent); nothing changed\n`);
});

test('a second maintenance on keeps the first reason and time unless --force', async (t) => {
  const flag = path.join(await tempDir(t, 'rrn-mt-'), 'maintenance');
  t.is((await maintenance('on', '--maintenance-file', flag, '--reason', 'firmware update')).code, 0);
  const first = await readFile(flag, 'utf8');
  const since = /^since (.+)$/m.exec(first)?.[1] ?? '';
  const again = await maintenance('on', '--maintenance-file', flag, '--reason', 'other');
  t.is(again.code, 0);
  t.is(again.stdout, `maintenance on: already on since ${since} (reason: firmware update) (${flag}); kept as it is, use --force to replace the reason and time\n`);
  t.is(await readFile(flag, 'utf8'), first);
  const forced = await maintenance('on', '--maintenance-file', flag, '--reason', 'other', '--force');
  t.is(forced.code, 0);
  t.regex(forced.stdout, /replaced; runner devices turn Unhealthy/);
  t.regex(await readFile(flag, 'utf8'), /^reason: other$/m);
  // A flag written by other means (the Ansible role writes it empty) is on all the same.
  await writeFile(flag, '');
  t.regex((await maintenance('on', '--maintenance-file', flag)).stdout, /^maintenance on: already on \(/);
});

function capture(): { rt: Runtime; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const rt = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) } as unknown as Runtime;
  return { rt, out: () => out, err: () => err };
}

test('check-config with no argument and no config file says the defaults are in effect because the file is absent', async (t) => {
  const absent = path.join(await tempDir(t, 'rrn-cc-'), 'config.yaml');
  const c = capture();
  t.is(await runCheckConfigCommand({ file: undefined, defaultFile: absent }, c.rt), 0);
  t.regex(c.out(), new RegExp(`^config ${absent}: does not exist, so the daemons run with the defaults; settings in effect:\n`));
  t.notRegex(c.out(), /\bok\b/);
  t.regex(c.out(), /resourceName: riseproject\.com\/runner/);
});

test('check-config of a missing named file names the argument it was given, not a flag it does not take', async (t) => {
  const absent = path.join(await tempDir(t, 'rrn-cc-'), 'nope.yaml');
  const r = await run(['check-config', absent]);
  t.is(r.code, 78);
  t.is(r.stderr, `config ${absent}: cannot be read (ENOENT); fix the path given to check-config\n`);
});

test('check-config checks the file RISCV_RUNNER_NODE_CONFIG gives the daemons, and a named file wins over it', async (t) => {
  const dir = await tempDir(t, 'rrn-cc-');
  const fromEnv = path.join(dir, 'env.yaml');
  const named = path.join(dir, 'named.yaml');
  await writeFile(fromEnv, 'deviceplugin:\n  deviceCount: 3\n');
  await writeFile(named, 'deviceplugin:\n  deviceCount: 5\n');
  const byEnv = await run(['check-config'], { RISCV_RUNNER_NODE_CONFIG: fromEnv });
  t.is(byEnv.code, 0, byEnv.stderr);
  t.regex(byEnv.stdout, new RegExp(`^config ${fromEnv}: ok;`));
  t.regex(byEnv.stdout, /deviceCount: 3$/m);
  const byFlag = await run(['check-config', '--config', fromEnv]);
  t.regex(byFlag.stdout, /deviceCount: 3$/m);
  const both = await run(['check-config', named], { RISCV_RUNNER_NODE_CONFIG: fromEnv });
  t.regex(both.stdout, new RegExp(`^config ${named}: ok;`));
  t.regex(both.stdout, /deviceCount: 5$/m);
  // Named by the variable, the file must exist, as it must for the daemons.
  const missing = await run(['check-config'], { RISCV_RUNNER_NODE_CONFIG: path.join(dir, 'absent.yaml') });
  t.is(missing.code, 78);
  t.regex(missing.stderr, /absent\.yaml: cannot be read \(ENOENT\)/);
});

test('check-config output ends with a newline and no line ends with spaces', async (t) => {
  const file = path.join(await tempDir(t, 'rrn-cc-'), 'config.yaml');
  await writeFile(file, 'labeller:\n  boardNames: fleet\n');
  const r = await run(['check-config', file]);
  t.is(r.code, 0);
  t.true(r.stdout.endsWith('\n'), JSON.stringify(r.stdout.slice(-20)));
  t.false(r.stdout.endsWith('\n\n'));
  const trailing = r.stdout.split('\n').filter((l) => / $/.test(l));
  t.deepEqual(trailing, []);
  t.regex(r.stdout, /^ {4}boardNames: fleet$/m);
});

test('the README shows how to run the command from a clone, and each such line works', async (t) => {
  const readme = await readFile('README.md', 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const commands = blocks
    .flatMap((b) => b.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('node dist/src/cli.js '));
  t.true(commands.some((c) => /^node dist\/src\/cli\.js detect --root test\/fixtures\/roots\/\S+/.test(c)), 'a detect of a sample board');
  for (const command of commands) {
    // The README's lines use no quoting, so splitting on spaces is what a shell does with them.
    const args = command.split(/\s+/).slice(2);
    // Not this machine's /etc/riscv-runner-node/config.yaml: the commands that read one get the
    // empty file (a file check-config is given as an argument wins over the variable).
    const r = await run(args, { RISCV_RUNNER_NODE_CONFIG: emptyConfig });
    t.is(r.code, 0, `${command}\n${r.stderr}`);
    t.not(r.stdout, '', command);
  }
});
