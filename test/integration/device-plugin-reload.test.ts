// Live reload and the kubelet's coming and going, against the kubelet stand-in over real sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { loadConfig } from '../../src/common/config.js';
import { eventually } from '../helpers/eventually.js';
import { RESOURCE, startHarness, type Harness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

const KUBELET_MAIN = fileURLToPath(new URL('../fakes/kubelet-main.js', import.meta.url));

/** A harness whose plugin reads its config from a real file, as the daemon does. */
async function withConfigFile(t: ExecutionContext, text: string, settings: { recheckMs?: number } = {}): Promise<{ h: Harness; file: string }> {
  const etc = await tempDir(t, 'rrn-etc-');
  const file = path.join(etc, 'config.yaml');
  await writeFile(file, text);
  const read = async (): Promise<ReturnType<typeof Object>> => (await loadConfig(file, { mustExist: true })).deviceplugin;
  const initial = (await loadConfig(file, { mustExist: true })).deviceplugin;
  const h = await startHarness(t, {
    settings: { ...initial, maintenanceFile: path.join(etc, 'maintenance'), configFile: file, reloadConfig: read, ...settings },
  });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) > 0, 10_000, 'registration');
  return { h, file };
}

test('SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1; a new device count goes on the open stream', async (t) => {
  const { h, file } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 1\n');
  t.true(await eventually(() => h.notifier.sent.includes('READY=1')));
  await writeFile(file, 'deviceplugin:\n  deviceCount: 3\n');
  const sent = h.notifier.sent.length;
  await h.plugin.reload();
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 3, 10_000, 'three devices');
  const after = h.notifier.sent.slice(sent);
  t.true(after.includes('RELOADING=1 MONOTONIC_USEC=42'));
  t.true(after.indexOf('READY=1') > after.indexOf('RELOADING=1 MONOTONIC_USEC=42'));
  t.is(h.kubelet.registrations.length, 1, 'no re-registration');
  t.is(h.kubelet.streamsOpened.get(RESOURCE), 1, 'the same stream');
});

test('the config file is watched: a change applies without a signal', async (t) => {
  const { h, file } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 2\n');
  await writeFile(file, 'deviceplugin:\n  deviceCount: 4\n');
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 4, 10_000, 'four devices');
  t.is(h.kubelet.registrations.length, 1);
});

test('a file rewritten in place (truncated, then written) is read once it settles, never half-written', async (t) => {
  const { h, file } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 3\n');
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 3, 10_000, 'three devices');
  const seen = h.kubelet.updates.length;
  // What `tee` and an editor saving in place do: an empty file (a valid config: every default,
  // one device) for a moment, then the new text.
  await writeFile(file, '');
  await new Promise((r) => setTimeout(r, 20));
  await writeFile(file, 'deviceplugin:\n  deviceCount: 4\n');
  await h.kubelet.waitFor(() => h.kubelet.devices(RESOURCE).length === 4, 10_000, 'four devices');
  t.deepEqual(
    h.kubelet.updates.slice(seen).map((u) => u.devices.length),
    [4],
  );
});

test('an invalid new config keeps the old one serving and says why until a good one is loaded', async (t) => {
  const { h, file } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 2\n');
  await writeFile(file, 'deviceplugin:\n  deviceCount: many\n  resourceNmae: x\n');
  await h.plugin.reload();
  t.regex(
    h.notifier.lastStatus ?? '',
    /^config reload failed: config .*config\.yaml: deviceplugin\.\S+ .* \(and 1 more\); still serving the previous config; registered with kubelet: riseproject\.com\/runner 2\/2 healthy$/,
  );
  t.true(h.logger.lines.some((l) => l.level === 'error' && /config reload failed; still serving the previous config:\n.*deviceCount 'many'/s.test(l.message)));
  t.is(h.kubelet.devices(RESOURCE).length, 2);
  t.is(h.kubelet.allocatable(RESOURCE), 2);
  await writeFile(file, 'deviceplugin:\n  deviceCount: 2\n');
  await h.plugin.reload();
  t.is(h.notifier.lastStatus, 'registered with kubelet: riseproject.com/runner 2/2 healthy');
  t.is(h.kubelet.registrations.length, 1);
});

test('100 reloads with nothing changed: no registration, no new stream, no device update', async (t) => {
  const { h } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 2\n');
  await eventually(() => h.kubelet.updates.length > 0);
  const updates = h.kubelet.updates.length;
  for (let i = 0; i < 100; i++) await h.plugin.reload();
  t.is(h.plugin.stats().reloads, 100);
  t.is(h.kubelet.registrations.length, 1);
  t.is(h.kubelet.streamsOpened.get(RESOURCE), 1);
  t.is(h.kubelet.updates.length, updates);
});

test('a renamed resource: the old one is withdrawn and its socket removed, the new one registers', async (t) => {
  const { h, file } = await withConfigFile(t, 'deviceplugin:\n  deviceCount: 1\n');
  await writeFile(file, 'deviceplugin:\n  resourceName: example.com/slot\n  socketName: slot.sock\n');
  await h.plugin.reload();
  await h.kubelet.waitFor(() => h.kubelet.allocatable('example.com/slot') === 1, 10_000, 'new resource');
  t.deepEqual(h.kubelet.devices(RESOURCE), []);
  t.is(h.kubelet.allocatable(RESOURCE), 0);
  t.deepEqual(
    h.kubelet.registrations.map((r) => r.endpoint),
    ['rise-riscv-runner.sock', 'slot.sock'],
  );
});

/** The kubelet stand-in as its own process, so SIGKILL leaves kubelet.sock on disk as a killed kubelet does. */
function spawnKubelet(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [KUBELET_MAIN, '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('listening on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`kubelet stand-in exited with ${code}: ${out}`)));
  });
}

test('kubelet killed, kubelet.sock left behind: STATUS says the connection was lost, and clears on re-registration', async (t) => {
  const dir = await tempDir(t, 'rrn-kill-');
  let kubelet = await spawnKubelet(dir);
  t.teardown(() => void kubelet.kill('SIGKILL'));
  const h = await startHarness(t, { dir, startKubelet: false });
  const registered = 'registered with kubelet: riseproject.com/runner 1/1 healthy';
  t.true(await eventually(() => h.notifier.lastStatus === registered, 10_000), h.notifier.lastStatus);
  const socket = await lstat(path.join(dir, 'kubelet.sock'));
  kubelet.kill('SIGKILL');
  t.true(
    await eventually(() => /^kubelet connection lost at \d{4}-\d\d-\d\dT[\d:.]+Z; waiting for it to come back$/.test(h.notifier.lastStatus ?? ''), 10_000),
    h.notifier.lastStatus,
  );
  // Nothing on disk told us: the socket file is the very one the kubelet left.
  const after = await lstat(path.join(dir, 'kubelet.sock'));
  t.deepEqual([after.ino, after.ctimeMs], [socket.ino, socket.ctimeMs]);
  // No registration is attempted against a dead socket: the status stays until the kubelet returns.
  await new Promise((r) => setTimeout(r, 300));
  t.regex(h.notifier.lastStatus ?? '', /^kubelet connection lost at /);
  kubelet = await spawnKubelet(dir);
  t.true(await eventually(() => h.notifier.lastStatus === registered, 10_000), h.notifier.lastStatus);
});
