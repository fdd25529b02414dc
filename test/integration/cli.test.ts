// The command line as a user meets it: help text and pipes, through a real child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const fixtures = path.resolve('test/fixtures');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; closeStdout closes our end of its stdout pipe before it can write a byte. */
function run(args: string[], options: { closeStdout?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

for (const command of [[], ['device-plugin'], ['node-labeller'], ['maintenance', 'status']]) {
  test(`${['riscv-runner-node', ...command].join(' ')} --help: one line per command or option, no word cut`, async (t) => {
    const { code, stdout } = await run([...command, '--help']);
    t.is(code, 0);
    const rows = stdout.split('\n').filter((line) => line.startsWith(' '));
    t.true(rows.length >= 2, stdout);
    // A row that ran onto a second line would leave a line indented past the first column.
    for (const row of rows) t.regex(row, /^ {2}\S/, `a continuation line: ${JSON.stringify(row)}`);
    if (command.length === 0) t.regex(stdout, /advertises riseproject\.com\/runner\n/);
  });
}

test('detect into a pipe its reader already closed: exit 0, no stack trace', async (t) => {
  const args = ['detect', '--config', path.join(fixtures, 'labeller/empty-config.yaml'), '--root', path.join(fixtures, 'roots/scw-em-rv1')];
  const result = await run(args, { closeStdout: true });
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr, '');
});
