// `dra-devices` and the DRA parts of `check-config`, through a real child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const fixtures = path.resolve('test/fixtures');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('dra-devices --json: the runner slot of a Jupiter board with every attribute', async (t) => {
  const { code, stdout } = await run(['dra-devices', '--json', '--node-name', 'rv-1', '--root', path.join(fixtures, 'roots/jupiter'), '--config', path.join(fixtures, 'dra/runner.yaml')]);
  t.is(code, 0);
  const out = JSON.parse(stdout) as { driver: string; pool: string; devices: Array<{ name: string; attributes: Record<string, unknown>; capacity: unknown }> };
  t.is(out.driver, 'runner.riseproject.dev');
  t.is(out.pool, 'rv-1');
  t.deepEqual(out.devices.map((d) => d.name), ['runner-0']);
  t.like(out.devices[0]?.attributes, { board: { string: 'cloudv10x-jupiter' }, isa_zba: { bool: true }, isa_h: { bool: false }, mvendorid: { string: '0x710' } });
  t.deepEqual(out.devices[0]?.capacity, { memory: { value: '16108172Ki' } });
});

test('dra-devices with the default config publishes nothing and says how to choose DRA', async (t) => {
  const { code, stdout, stderr } = await run(['dra-devices', '--node-name', 'rv-1', '--root', path.join(fixtures, 'roots/jupiter'), '--config', path.join(fixtures, 'labeller/empty-config.yaml')]);
  t.is(code, 0);
  t.regex(stdout, /node rv-1: driver runner\.riseproject\.dev, pool rv-1, 0 devices/);
  t.regex(stderr, /dra\.resources is empty/);
});
