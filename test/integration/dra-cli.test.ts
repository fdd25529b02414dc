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

async function devTreeAndConfig(t: import('ava').ExecutionContext, dra: string[], devices: Array<{ devicematch: string; nummaxdevices: number }>) {
  const { tempDir } = await import('../helpers/tmp.js');
  const { buildDevTree } = await import('../helpers/dev-tree.js');
  const { writeFile } = await import('node:fs/promises');
  const { stringify } = await import('yaml');
  const dir = await tempDir(t, 'rrn-dcc-');
  await buildDevTree(path.join(dir, 'dev'), ['d snd', 'c snd/controlC0', 'c snd/pcmC0D0p', 'c ttyUSB0']);
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, stringify({ dra: { resources: dra }, deviceplugin: { dev: { devices } } }));
  return { dir, config, devDir: path.join(dir, 'dev') };
}

test('check-config refuses a device node offered both through DRA and through the device plugin', async (t) => {
  const s = await devTreeAndConfig(t, ['smarter-devices/snd'], [{ devicematch: '^snd$', nummaxdevices: 1 }, { devicematch: '^snd/controlC0$', nummaxdevices: 1 }]);
  const { code, stderr } = await run(['check-config', s.config, '--dev-dir', s.devDir]);
  t.is(code, 78);
  t.regex(stderr, /\/dev\/snd\/controlC0 would be offered both through DRA \(smarter-devices\/snd, in dra\.resources\) and through the device plugin \(smarter-devices\/snd_controlC0, deviceplugin\.dev\.devices\[1\]\): list smarter-devices\/snd_controlC0 in dra\.resources as well/);
  // Both through DRA: fine.
  const both = await devTreeAndConfig(t, ['smarter-devices/snd', 'smarter-devices/snd_controlC0'], [{ devicematch: '^snd$', nummaxdevices: 1 }, { devicematch: '^snd/controlC0$', nummaxdevices: 1 }]);
  t.is((await run(['check-config', both.config, '--dev-dir', both.devDir])).code, 0);
});

test('check-config refuses a dra.resources name nothing in the config serves', async (t) => {
  const s = await devTreeAndConfig(t, ['example.com/typo'], [{ devicematch: '^ttyUSB0$', nummaxdevices: 1 }]);
  const { code, stderr } = await run(['check-config', s.config, '--dev-dir', s.devDir]);
  t.is(code, 78);
  t.regex(stderr, /dra\.resources: example\.com\/typo is not a resource this config serves \(the runner is riseproject\.com\/runner, \/dev entries: smarter-devices\/…\); fix the name/);
});

test('devices: what dra.resources names is offered through DRA, not by the device plugin, and what clashes is left out', async (t) => {
  const s = await devTreeAndConfig(t, ['riseproject.com/runner', 'smarter-devices/snd'], [{ devicematch: '^snd$', nummaxdevices: 1 }, { devicematch: '^snd/controlC0$', nummaxdevices: 1 }, { devicematch: '^ttyUSB0$', nummaxdevices: 1 }]);
  const { code, stdout, stderr } = await run(['devices', '--json', '--node-name', 'rv-1', '--config', s.config, '--root', s.dir]);
  t.is(code, 0);
  const out = JSON.parse(stdout) as { resources: Array<{ name: string }>; handedToDra: string[] };
  t.deepEqual(out.resources.map((r) => r.name), ['smarter-devices/ttyUSB0']);
  t.deepEqual(out.handedToDra, ['riseproject.com/runner', 'smarter-devices/snd']);
  t.regex(stderr, /snd\/controlC0 would be offered both .*; the device plugin leaves it out/);
});
