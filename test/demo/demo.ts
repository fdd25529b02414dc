// `npm run demo`: both daemons, as real processes, against the kubelet stand-in, the fake API
// server and a sample devicetree (Scaleway EM-RV1), all in a temp dir; prints what each side saw.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeKubelet } from '../fakes/kubelet.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../test/fixtures/roots/scw-em-rv1', import.meta.url));
const NODE = 'rv-demo-01';
const RESOURCE = 'riseproject.com/runner';

const say = (line: string): void => void process.stdout.write(`\n== ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`demo: timed out waiting for ${what}`);
    await sleep(25);
  }
}

function daemon(name: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'pipe'] });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) process.stdout.write(`  [${name}] ${line}\n`);
  });
  return child;
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

const dir = await mkdtemp(path.join(tmpdir(), 'rrn-demo-'));
const pluginDir = path.join(dir, 'device-plugins');
const children: ChildProcess[] = [];
const kubelet = new FakeKubelet({ dir: pluginDir });
const api = new FakeApiServer();
try {
  say(`detect: the labels this board would get (devicetree and cpuinfo under ${path.relative(process.cwd(), ROOT)})`);
  const detect = daemon('detect', ['detect', '--root', ROOT]);
  await stopped(detect);

  say('kubelet stand-in and API server stand-in');
  await (await import('node:fs/promises')).mkdir(pluginDir, { recursive: true });
  await kubelet.start();
  const token = 'demo-token';
  api.addToken(token, `system:node:${NODE}`);
  api.createNode(NODE, { 'kubernetes.io/hostname': NODE, 'team.example/owner': 'ci' });
  const url = await api.start(0, '127.0.0.1');
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeconfig(token), { mode: 0o600 });
  process.stdout.write(`  kubelet.sock: ${kubelet.socketPath}\n  API server: ${url} (as system:node:${NODE})\n`);

  say('rise-device-plugin');
  const maintenance = path.join(dir, 'maintenance');
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, '# the runner slot alone, to begin with\n');
  const plugin = daemon('device-plugin', ['device-plugin', '--config', config, '--device-plugin-dir', pluginDir, '--maintenance-file', maintenance, '--node-name', NODE]);
  children.push(plugin);
  await until('registration', () => kubelet.allocatable(RESOURCE) === 1);
  process.stdout.write(`  kubelet sees ${RESOURCE}: ${JSON.stringify(kubelet.devices(RESOURCE))}, allocatable ${kubelet.allocatable(RESOURCE)}\n`);

  say('rise-node-labeller');
  children.push(daemon('node-labeller', ['node-labeller', '--root', ROOT, '--kubeconfig', kubeconfig, '--node-name', NODE]));
  const owned = (): Record<string, string> =>
    Object.fromEntries(Object.entries(api.nodes.get(NODE)?.metadata.labels ?? {}).filter(([k]) => k.startsWith('riseproject.dev/')));
  await until('labels', () => owned()['riseproject.dev/board'] === 'scw-em-rv1');
  process.stdout.write(`  node ${NODE} labels now: ${JSON.stringify(api.nodes.get(NODE)?.metadata.labels, null, 1).replace(/\n/g, '\n  ')}\n`);

  say('someone deletes riseproject.dev/board: the labeller puts it back');
  api.editLabels(NODE, { 'riseproject.dev/board': null });
  await until('repair', () => owned()['riseproject.dev/board'] === 'scw-em-rv1');
  process.stdout.write(`  riseproject.dev/board=${owned()['riseproject.dev/board']} again; team.example/owner=${api.nodes.get(NODE)?.metadata.labels['team.example/owner']} untouched\n`);

  say('maintenance on: the runner device turns Unhealthy (no new runners), no restart');
  await writeFile(maintenance, 'demo\n');
  await until('Unhealthy', () => kubelet.devices(RESOURCE)[0]?.health === 'Unhealthy');
  process.stdout.write(`  kubelet sees ${JSON.stringify(kubelet.devices(RESOURCE))}, allocatable ${kubelet.allocatable(RESOURCE)}\n`);
  await unlink(maintenance);
  await until('Healthy', () => kubelet.devices(RESOURCE)[0]?.health === 'Healthy');
  process.stdout.write(`  maintenance off: ${JSON.stringify(kubelet.devices(RESOURCE))}\n`);

  say('kubelet restarts (every socket in the directory removed, kubelet.sock recreated)');
  const before = kubelet.registrations.length;
  await kubelet.restart();
  await until('re-registration', () => kubelet.registrations.length > before && kubelet.allocatable(RESOURCE) === 1);
  const reg = kubelet.registrations[kubelet.registrations.length - 1]!;
  process.stdout.write(`  re-registered ${(reg.at - kubelet.listeningAt).toFixed(1)} ms after the new kubelet.sock listened\n`);

  say('reload (SIGHUP, as systemctl reload sends it): spookd-style virtual devices join, the runner slot is untouched');
  const WIDGET = 'example.com/oscilloscope';
  const runnerRegistrations = kubelet.registrations.filter((r) => r.resourceName === RESOURCE).length;
  const runnerStreams = kubelet.streamsOpened.get(RESOURCE) ?? 0;
  await writeFile(
    config,
    [
      'deviceplugin:',
      '  virtual:',
      '    deviceMapping:',
      `      - hosts: [${NODE}]`,
      '        devices:',
      `          - { resourceName: ${WIDGET}, instanceID: "0001", env: { IP: 10.0.10.215 } }`,
      `          - { resourceName: ${WIDGET}, instanceID: "0002", env: { IP: 10.0.10.218 } }`,
      '',
    ].join('\n'),
  );
  plugin.kill('SIGHUP');
  await until('virtual devices', () => kubelet.allocatable(WIDGET) === 2);
  const alloc = await kubelet.allocate(WIDGET, ['0002']);
  process.stdout.write(`  kubelet sees ${WIDGET}: ${JSON.stringify(kubelet.devices(WIDGET))}\n`);
  process.stdout.write(`  a container given 0002 gets ${JSON.stringify(alloc.container_responses[0]?.envs)}\n`);
  process.stdout.write(
    `  ${RESOURCE} across the reload: ${kubelet.registrations.filter((r) => r.resourceName === RESOURCE).length - runnerRegistrations} new registrations, ` +
      `${(kubelet.streamsOpened.get(RESOURCE) ?? 0) - runnerStreams} new streams\n`,
  );

  say('SIGTERM both daemons');
  for (const c of children) c.kill('SIGTERM');
  const codes = await Promise.all(children.map(stopped));
  process.stdout.write(`  exit codes: ${codes.join(', ')}\n`);
  if (codes.some((c) => c !== 0)) process.exitCode = 1;
  say('demo finished');
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  kubelet.stop();
  await api.stop();
  await rm(dir, { recursive: true, force: true });
}
