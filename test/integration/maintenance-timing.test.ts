// The maintenance command's output tells an operator when the Node shows the change, not only the devices.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const EMPTY_CONFIG = path.resolve('test/fixtures/labeller/empty-config.yaml');

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

test("maintenance on and off say that the Node's allocatable follows the kubelet's node status sync", async (t) => {
  const dir = await tempDir(t, 'rrn-mt-');
  const flag = path.join(dir, 'maintenance');
  const on = await run(['maintenance', 'on', '--config', EMPTY_CONFIG, '--maintenance-file', flag]);
  t.is(on.code, 0);
  t.true(existsSync(flag));
  t.is(
    on.stdout,
    `maintenance on: ${flag} created; runner devices turn Unhealthy now, the Node's allocatable follows 5-7 s later (the kubelet's node status sync); running jobs are not touched\n`,
  );
  const off = await run(['maintenance', 'off', '--config', EMPTY_CONFIG, '--maintenance-file', flag]);
  t.is(off.code, 0);
  t.false(existsSync(flag));
  t.is(off.stdout, `maintenance off: ${flag} removed; runner devices turn Healthy now, the Node's allocatable follows 5-7 s later (the kubelet's node status sync)\n`);
});
