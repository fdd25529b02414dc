// The node-labeller and unlabel commands as processes against the fake API server: which Node the credentials name, and a purge's unlabel.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { OWNED_ANNOTATION } from '../../src/labeller/reconcile.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const ROOT = path.resolve('test/fixtures/roots/scw-em-rv1');
const EMPTY_CONFIG = path.resolve('test/fixtures/labeller/empty-config.yaml');
const PKI = path.resolve('test/fixtures/pki');

/** The environment without what would override the flags under test. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const key of Object.keys(env)) if (key === 'NODE_NAME' || key === 'KUBECONFIG' || key.startsWith('RISCV_RUNNER_NODE_')) delete env[key];
  return env;
}

interface Setup {
  api: FakeApiServer;
  dir: string;
  /** A kubeconfig presenting the kubelet's client certificate for rv-01 (the fake authenticates its token). */
  kubeletKubeconfig: string;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const api = new FakeApiServer({ tokens: { tok: 'system:node:rv-01' } });
  await api.start(0);
  t.teardown(() => api.stop());
  const dir = await tempDir(t, 'rrn-lc-');
  const kubeletKubeconfig = path.join(dir, 'kubelet.conf');
  await writeFile(
    kubeletKubeconfig,
    api.kubeconfig('tok').replace('    token: tok', `    token: tok\n    client-certificate: ${PKI}/kubelet-rv-01.crt\n    client-key: ${PKI}/kubelet-rv-01.key`),
  );
  return { api, dir, kubeletKubeconfig };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

test("no node name configured: the labeller labels the Node its kubelet's client certificate names", async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-01');
  const listener = await NotifyListener.start(s.dir);
  t.teardown(() => listener.close());
  const child = spawn(process.execPath, [CLI, 'node-labeller', '--config', EMPTY_CONFIG, '--root', ROOT, '--kubeconfig', s.kubeletKubeconfig], {
    env: cleanEnv({ NOTIFY_SOCKET: listener.socketPath }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  await listener.waitFor((a) => a.includes('STATUS=node rv-01: riseproject.dev/board=scw-em-rv1 (in sync)'));
  t.is(s.api.nodes.get('rv-01')?.metadata.labels['riseproject.dev/board'], 'scw-em-rv1');
  t.regex(stderr, /node name rv-01 from the client certificate in /);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('a configured node name that is not the credentials\' own: exit 78 with exactly that, and no request', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-01');
  s.api.createNode('rv-02');
  const r = await run(['node-labeller', '--config', EMPTY_CONFIG, '--root', ROOT, '--kubeconfig', s.kubeletKubeconfig, '--node-name', 'rv-02']);
  t.is(r.code, 78);
  t.true(r.stderr.includes("configured node 'rv-02' but these credentials are node 'rv-01''s"), r.stderr);
  t.regex(r.stderr, /to 'rv-01', or leave them unset/);
  t.is(s.api.log.length, 0);
});

test('a configured node name that is the credentials\' own is used', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-01', {}, {});
  const r = await run(['unlabel', '--config', EMPTY_CONFIG, '--kubeconfig', s.kubeletKubeconfig, '--node-name', 'rv-01']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'node rv-01: carries no labels of the node labeller; nothing to remove\n');
});

test('unlabel removes the owned labels and the record with the node\'s own credentials, and leaves every other label', async (t) => {
  const s = await setup(t);
  s.api.createNode(
    'rv-01',
    { 'riseproject.dev/board': 'scw-em-rv1', 'riseproject.dev/harts': '4', 'riseproject.dev/foreign': 'x', 'team/owner': 'ci' },
    { [OWNED_ANNOTATION]: 'riseproject.dev/board,riseproject.dev/harts,riseproject.dev/gone', 'other/annotation': 'kept' },
  );
  const r = await run(['unlabel', '--config', EMPTY_CONFIG, '--kubeconfig', s.kubeletKubeconfig]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `node rv-01: removed riseproject.dev/board, riseproject.dev/harts and the annotation ${OWNED_ANNOTATION}\n`);
  const node = s.api.nodes.get('rv-01');
  t.deepEqual(node?.metadata.labels, {
    'kubernetes.io/hostname': 'rv-01',
    'kubernetes.io/arch': 'riscv64',
    'kubernetes.io/os': 'linux',
    'riseproject.dev/foreign': 'x',
    'team/owner': 'ci',
  });
  t.deepEqual(node?.metadata.annotations, { 'other/annotation': 'kept' });
  t.deepEqual(s.api.log.map((e) => `${e.verb} ${e.user ?? ''} ${e.status}`), ['get system:node:rv-01 200', 'patch system:node:rv-01 200']);
});

test('unlabel with the API server down fails at once, names what is left, and says how to remove it', async (t) => {
  const s = await setup(t);
  await s.api.stop();
  const r = await run(['unlabel', '--config', EMPTY_CONFIG, '--kubeconfig', s.kubeletKubeconfig, '--timeout', '5']);
  t.is(r.code, 1);
  t.regex(r.stderr, /unlabel: failed to remove the node labeller's labels from node rv-01 \(API server http:\/\/127\.0\.0\.1:\d+\): .*ECONNREFUSED/);
  t.regex(r.stderr, /kubectl annotate node rv-01 riseproject\.dev\/labeller\.owned-labels-/);
});

test('unlabel gives up after --timeout when the API server does not answer', async (t) => {
  const s = await setup(t);
  s.api.createNode('rv-01', { 'riseproject.dev/board': 'x' }, { [OWNED_ANNOTATION]: 'riseproject.dev/board' });
  s.api.setDelay(60_000);
  const r = await run(['unlabel', '--config', EMPTY_CONFIG, '--kubeconfig', s.kubeletKubeconfig, '--timeout', '1']);
  t.is(r.code, 1);
  t.regex(r.stderr, /from node rv-01 .*: no answer within 1s/);
  t.is(s.api.nodes.get('rv-01')?.metadata.labels['riseproject.dev/board'], 'x');
});

test('unlabel on a board without credentials removes nothing and says so', async (t) => {
  const dir = await tempDir(t, 'rrn-lc-');
  const r = await run(['unlabel', '--config', EMPTY_CONFIG, '--kubeconfig', path.join(dir, 'missing'), '--node-name', 'rv-01']);
  t.is(r.code, 1);
  t.regex(r.stderr, /failed to load kubeconfig .*missing: .*; no labels removed from node rv-01/);
});
