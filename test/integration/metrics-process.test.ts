// The command as a process with metrics on: a unix socket before READY (kubelet absent), after it, a bad config.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { FakeKubelet } from '../fakes/kubelet.js';
import { startCli } from '../helpers/cli-process.js';
import { eventually } from '../helpers/eventually.js';
import { parseExposition } from '../helpers/exposition.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { get, promtoolProblems } from '../helpers/scrape.js';
import { tempDir } from '../helpers/tmp.js';

test('device-plugin with a metrics socket: up without a kubelet (503), then registered (200); gone at SIGTERM', async (t) => {
  const dir = await tempDir(t, 'rrn-mp-');
  const runDir = await tempDir(t, 'rrn-mr-');
  const socket = path.join(runDir, 'metrics.sock');
  const config = path.join(runDir, 'config.yaml');
  await writeFile(config, `deviceplugin:\n  maintenanceFile: ${path.join(runDir, 'm')}\n  metrics:\n    listen: unix:${socket}\n`);
  const listener = await NotifyListener.start(await tempDir(t, 'rrn-notify-'));
  t.teardown(() => listener.close());
  const kubelet = new FakeKubelet({ dir });
  t.teardown(() => kubelet.stop());
  const run = startCli(t, ['device-plugin', '--device-plugin-dir', dir, '--config', config], { NOTIFY_SOCKET: listener.socketPath });
  const { child, exited } = run;

  // No READY without a kubelet: the metrics come up after the fallback delay all the same.
  t.true(await eventually(() => existsSync(socket), 10_000), run.stderr());
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
  t.is(await exited, 0, run.stderr());
  t.false(existsSync(socket), 'the socket goes with the process');
  t.regex(run.stderr(), /metrics: serving \/metrics and \/healthz on unix:/);
});

test('check-config names a bad metrics key, with exit 78', async (t) => {
  const dir = await tempDir(t, 'rrn-mc-');
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, 'labeller:\n  metrics:\n    listen: localhost:9466\n    textFile: /var/lib/prometheus/node-exporter/x.prom\n');
  const run = startCli(t, ['check-config', config]);
  t.is(await run.exited, 78);
  const stderr = run.stderr();
  t.regex(stderr, /labeller\.metrics\.listen 'localhost:9466' must be IP:PORT/);
  t.regex(stderr, /labeller\.metrics\.textFile is not a known key; did you mean labeller\.metrics\.textfile\?/);
});
