// The command as a process with metrics on: a unix socket before READY (kubelet absent), after it, a bad config.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { FakeKubelet } from '../fakes/kubelet.js';
import { eventually } from '../helpers/eventually.js';
import { parseExposition } from '../helpers/exposition.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { get, promtoolProblems } from '../helpers/scrape.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

test('device-plugin with a metrics socket: up without a kubelet (503), then registered (200); gone at SIGTERM', async (t) => {
  const dir = await tempDir(t, 'rrn-mp-');
  const run = await tempDir(t, 'rrn-mr-');
  const socket = path.join(run, 'metrics.sock');
  const config = path.join(run, 'config.yaml');
  await writeFile(config, `deviceplugin:\n  maintenanceFile: ${path.join(run, 'm')}\n  metrics:\n    listen: unix:${socket}\n`);
  const listener = await NotifyListener.start(await tempDir(t, 'rrn-notify-'));
  t.teardown(() => listener.close());
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  const child = spawn(process.execPath, [CLI, 'device-plugin', '--device-plugin-dir', dir, '--config', config], {
    env: { ...process.env, NOTIFY_SOCKET: listener.socketPath },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));

  // No READY without a kubelet: the metrics come up after the fallback delay all the same.
  t.true(await eventually(() => existsSync(socket), 10_000), stderr);
  const waiting = await get(`unix:${socket}`, '/healthz');
  t.is(waiting.status, 503);
  t.regex(waiting.body, /^waiting for kubelet: .*kubelet\.sock does not exist yet\n$/);

  await kubelet.start();
  await listener.waitFor((a) => a.includes('READY=1'));
  const healthy = await get(`unix:${socket}`, '/healthz');
  t.is(healthy.status, 200);
  const scrape = await get(`unix:${socket}`, '/metrics');
  t.is(parseExposition(scrape.body).value('rise_device_plugin_registered', { resource: 'riseproject.com/runner' }), 1);
  t.is(promtoolProblems(scrape.body), '');

  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
  t.false(existsSync(socket), 'the socket goes with the process');
  t.regex(stderr, /metrics: serving \/metrics and \/healthz on unix:/);
});

test('check-config names a bad metrics key, with exit 78', async (t) => {
  const run = await tempDir(t, 'rrn-mc-');
  const config = path.join(run, 'config.yaml');
  await writeFile(config, 'labeller:\n  metrics:\n    listen: localhost:9466\n    textFile: /var/lib/prometheus/node-exporter/x.prom\n');
  const child = spawn(process.execPath, [CLI, 'check-config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.is(code, 78);
  t.regex(stderr, /labeller\.metrics\.listen 'localhost:9466' must be IP:PORT/);
  t.regex(stderr, /labeller\.metrics\.textFile is not a known key; did you mean labeller\.metrics\.textfile\?/);
});
