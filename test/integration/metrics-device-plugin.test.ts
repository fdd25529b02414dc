// The device plugin's /metrics, /healthz and textfile, over real HTTP and a real unix socket, against the kubelet stand-in.
import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { parseExposition } from '../helpers/exposition.js';
import { RESOURCE, startHarness } from '../helpers/plugin-harness.js';
import { freePort, get, promtoolProblems } from '../helpers/scrape.js';
import { tempDir } from '../helpers/tmp.js';

async function scrape(listen: string) {
  const answer = await get(listen, '/metrics');
  return { ...answer, m: parseExposition(answer.body) };
}

test('over TCP: /metrics follows registration, a kubelet restart and allocations; /healthz follows the status line', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const h = await startHarness(t, { settings: { metrics: { listen, textfile: undefined } } });
  await eventually(() => h.kubelet.allocatable(RESOURCE) === 1);
  await h.metrics?.start();

  let s = await scrape(listen);
  t.is(s.status, 200);
  t.regex(s.contentType, /^text\/plain; version=0\.0\.4/);
  t.is(s.m.value('rise_device_plugin_registered', { resource: RESOURCE }), 1);
  t.is(s.m.value('rise_device_plugin_registrations_total', { resource: RESOURCE, result: 'ok' }), 1);
  t.is(s.m.value('rise_device_plugin_devices', { resource: RESOURCE, health: 'healthy' }), 1);
  t.is(s.m.value('rise_device_plugin_registration_latency_seconds_count', { resource: RESOURCE }), 1);
  t.is(s.m.value('rise_device_plugin_maintenance', {}), 0);
  t.true(s.m.samples.some((x) => x.name === 'rise_device_plugin_process_resident_memory_bytes'), 'process metrics carry the prefix');
  t.false(s.m.samples.some((x) => x.name.includes('eventloop_lag')), 'no event-loop lag timer');
  t.is(promtoolProblems(s.body), '');

  const healthy = await get(listen, '/healthz');
  t.is(healthy.status, 200);
  t.is(healthy.body, 'registered with kubelet: riseproject.com/runner 1/1 healthy\n');

  await h.kubelet.allocate(RESOURCE, ['runner-0']);
  await t.throwsAsync(h.kubelet.allocate(RESOURCE, ['runner-9']));
  // The stand-in's server unlinks kubelet.sock as it stops: the plugin waits for a new one.
  h.kubelet.stop();
  t.true(await eventually(() => !(h.notifier.lastStatus?.startsWith('registered') ?? true)), h.notifier.lastStatus);
  const lost = await get(listen, '/healthz');
  t.is(lost.status, 503);
  t.is(lost.body, `${h.notifier.lastStatus ?? ''}\n`);
  t.regex(lost.body, /^(waiting for kubelet|kubelet connection lost)/);
  s = await scrape(listen);
  t.is(s.m.value('rise_device_plugin_registered', { resource: RESOURCE }), 0);

  await h.kubelet.start();
  t.true(await eventually(() => h.kubelet.allocatable(RESOURCE) === 1));
  t.true(await eventually(() => h.notifier.lastStatus?.startsWith('registered') ?? false));
  s = await scrape(listen);
  t.is(s.m.value('rise_device_plugin_kubelet_restarts_total', {}), 1);
  t.is(s.m.value('rise_device_plugin_registrations_total', { resource: RESOURCE, result: 'ok' }), 2);
  t.is(s.m.value('rise_device_plugin_registration_latency_seconds_count', { resource: RESOURCE }), 2);
  t.is(s.m.value('rise_device_plugin_allocations_total', { resource: RESOURCE }), 2);
  t.is(s.m.value('rise_device_plugin_allocations_refused_total', { resource: RESOURCE }), 1);
  t.is(s.m.value('rise_device_plugin_registered', { resource: RESOURCE }), 1);
  t.is((await get(listen, '/healthz')).status, 200);
  t.is((await get(listen, '/nothing')).status, 404);
});

test('refused registrations count as refused; /healthz is 503 with the retry line until accepted', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const h = await startHarness(t, { refuse: 3, settings: { metrics: { listen, textfile: undefined } } });
  // READY comes only once accepted: start the metrics as the fallback timer would.
  await h.metrics?.start();
  t.true(await eventually(() => h.kubelet.allocatable(RESOURCE) === 1));
  const s = await scrape(listen);
  t.is(s.m.value('rise_device_plugin_registrations_total', { resource: RESOURCE, result: 'refused' }), 3);
  t.is(s.m.value('rise_device_plugin_registrations_total', { resource: RESOURCE, result: 'ok' }), 1);
  t.is(s.m.value('rise_device_plugin_registrations_total', { resource: RESOURCE, result: 'error' }), 0);
});

test('waiting for the kubelet: /healthz says so with 503', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const h = await startHarness(t, { startKubelet: false, settings: { metrics: { listen, textfile: undefined } } });
  await h.metrics?.start();
  const answer = await get(listen, '/healthz');
  t.is(answer.status, 503);
  t.is(answer.body, `waiting for kubelet: ${path.join(h.dir, 'kubelet.sock')} does not exist yet\n`);
});

test('over a unix socket: a stale socket file is replaced, /metrics and /healthz answer, the file goes at stop', async (t) => {
  const run = await tempDir(t, 'rrn-m-');
  const socket = path.join(run, 'metrics.sock');
  // A socket left by a crash: bound by a process that exited without removing it.
  execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket]);
  t.true((await stat(socket)).isSocket());
  const listen = `unix:${socket}`;
  const h = await startHarness(t, { settings: { metrics: { listen, textfile: undefined } } });
  await eventually(() => h.kubelet.allocatable(RESOURCE) === 1);
  await h.metrics?.start();
  const s = await scrape(listen);
  t.is(s.status, 200);
  t.is(s.m.value('rise_device_plugin_registered', { resource: RESOURCE }), 1);
  t.is(promtoolProblems(s.body), '');
  t.is((await get(listen, '/healthz')).status, 200);
  t.true((await stat(socket)).isSocket());
  await h.stopPlugin();
  await t.throwsAsync(stat(socket), { code: 'ENOENT' });
});

test('a socket path another process answers on is not taken; the plugin serves on and STATUS says why', async (t) => {
  const run = await tempDir(t, 'rrn-m-');
  const socket = path.join(run, 'metrics.sock');
  const other = createServer();
  await new Promise<void>((resolve) => other.listen(socket, resolve));
  t.teardown(() => new Promise<void>((resolve) => other.close(() => resolve())));
  const h = await startHarness(t, { settings: { metrics: { listen: `unix:${socket}`, textfile: undefined } } });
  t.true(await eventually(() => h.kubelet.allocatable(RESOURCE) === 1));
  await h.metrics?.start();
  t.true(await eventually(() => h.notifier.lastStatus?.includes('another process listens on') ?? false), h.notifier.lastStatus);
  t.regex(h.notifier.lastStatus ?? '', /^registered with kubelet: riseproject\.com\/runner 1\/1 healthy; metrics: failed to listen on unix:/);
  t.true((await stat(socket)).isSocket(), "the other process's socket stays");
});

test('port in use: logged, in STATUS, and the plugin keeps serving its devices', async (t) => {
  const port = await freePort();
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const h = await startHarness(t, { settings: { metrics: { listen: `127.0.0.1:${port}`, textfile: undefined } } });
  t.true(await eventually(() => h.kubelet.allocatable(RESOURCE) === 1));
  await h.metrics?.start();
  t.true(await eventually(() => h.notifier.lastStatus?.includes(`metrics: failed to listen on 127.0.0.1:${port}: EADDRINUSE`) ?? false), h.notifier.lastStatus);
  t.true(h.logger.lines.some((l) => l.level === 'error' && l.message.includes('EADDRINUSE (another process uses that address; choose another port)')));
  const response = await h.kubelet.allocate(RESOURCE, ['runner-0']);
  t.is(response.container_responses.length, 1);
});

test('textfile: written atomically, left alone while nothing changes, rewritten when a value does', async (t) => {
  const dir = await tempDir(t, 'rrn-tf-');
  const textfile = path.join(dir, 'rise-device-plugin.prom');
  const h = await startHarness(t, { settings: { metrics: { listen: undefined, textfile } } });
  await eventually(() => h.kubelet.allocatable(RESOURCE) === 1);
  await h.metrics?.start();
  t.true(await eventually(() => h.notifier.sent.includes('READY=1')));
  const first = await waitForFile(textfile, (text) => /^rise_device_plugin_registered\{resource="riseproject.com\/runner"\} 1$/m.test(text));
  t.is(promtoolProblems(first.text), '');
  t.false(first.text.includes('process_'), 'process metrics are not in the textfile');
  t.deepEqual(await readdir(dir), ['rise-device-plugin.prom'], 'no temporary file left');

  // Passes that change no value (a rescan, a reload of the same config) write nothing.
  await h.plugin.rediscover();
  await h.plugin.rediscover();
  await new Promise((r) => setImmediate(r));
  const same = await stat(textfile);
  t.is(same.ino, first.st.ino);
  t.is(same.mtimeMs, first.st.mtimeMs);

  // The maintenance flag turns the device Unhealthy: two values change, one new file. The old
  // file held open keeps its inode, so a rename shows as a new one, and the old text stays whole.
  const held = await open(textfile, 'r');
  t.teardown(() => held.close());
  await mkdir(path.dirname(h.config.maintenanceFile), { recursive: true });
  await writeFile(h.config.maintenanceFile, '');
  await h.plugin.rediscover();
  const next = await waitForFile(textfile, (text) => /^rise_device_plugin_maintenance 1$/m.test(text));
  t.not(next.st.ino, first.st.ino, 'replaced by a rename, never written in place');
  t.is(await held.readFile('utf8'), first.text, 'a reader of the old file saw it whole');
  t.regex(next.text, /rise_device_plugin_devices\{resource="riseproject.com\/runner",health="unhealthy"\} 1/);
  t.deepEqual(await readdir(dir), ['rise-device-plugin.prom']);

  // At stop the last values are written: not registered.
  await h.stopPlugin();
  t.regex(await readFile(textfile, 'utf8'), /rise_device_plugin_registered\{resource="riseproject.com\/runner"\} 0/);
});

test('textfile in a directory that does not exist: logged once, in STATUS, devices served', async (t) => {
  const dir = await tempDir(t, 'rrn-tf-');
  const textfile = path.join(dir, 'missing', 'rise-device-plugin.prom');
  const h = await startHarness(t, { settings: { metrics: { listen: undefined, textfile } } });
  t.true(await eventually(() => h.kubelet.allocatable(RESOURCE) === 1));
  await h.metrics?.start();
  t.true(await eventually(() => h.notifier.lastStatus?.includes(`failed to write metrics textfile ${textfile}`) ?? false), h.notifier.lastStatus);
  t.regex(h.notifier.lastStatus ?? '', /its directory does not exist/);
  await h.kubelet.allocate(RESOURCE, ['runner-0']);
  await new Promise((r) => setTimeout(r, 20));
  t.is(h.logger.lines.filter((l) => l.message.includes('failed to write metrics textfile')).length, 1, 'once, not per event');
});

async function waitForFile(file: string, ready: (text: string) => boolean): Promise<{ text: string; st: { ino: number; mtimeMs: number } }> {
  const until = Date.now() + 5000;
  for (;;) {
    try {
      const st = await stat(file);
      const text = await readFile(file, 'utf8');
      if (ready(text)) return { text, st };
    } catch {
      // not there yet
    }
    if (Date.now() > until) throw new Error(`${file} never showed what was expected`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('reloads are counted by result; a changed metrics section waits for a restart and says so', async (t) => {
  const listen = `127.0.0.1:${await freePort()}`;
  const { defaultConfig } = await import('../../src/common/config.js');
  const { ConfigError } = await import('../../src/common/errors.js');
  let next: 'same' | 'moved' | 'bad' = 'same';
  const h = await startHarness(t, {
    settings: {
      metrics: { listen, textfile: undefined },
      reloadConfig: async () => {
        if (next === 'bad') throw new ConfigError('config x: deviceplugin.deviceCount 0 must be at least 1');
        const metrics = next === 'moved' ? { listen: '127.0.0.1:1', textfile: undefined } : { listen, textfile: undefined };
        return { ...defaultConfig().deviceplugin, maintenanceFile: h.config.maintenanceFile, metrics };
      },
    },
  });
  await eventually(() => h.kubelet.allocatable(RESOURCE) === 1);
  await h.metrics?.start();
  await h.plugin.reload();
  next = 'bad';
  await h.plugin.reload();
  next = 'moved';
  await h.plugin.reload();
  const s = await scrape(listen);
  t.is(s.m.value('rise_device_plugin_config_reloads_total', { result: 'success' }), 2);
  t.is(s.m.value('rise_device_plugin_config_reloads_total', { result: 'failure' }), 1);
  t.true(h.logger.lines.some((l) => l.level === 'warn' && l.message === 'deviceplugin.metrics changed: it takes effect when rise-device-plugin restarts'));
  t.is(h.logger.lines.filter((l) => l.message.startsWith('deviceplugin.metrics changed')).length, 1, 'only the reload that moved it');
});
