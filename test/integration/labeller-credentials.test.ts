// The node-labeller command as a process against the fake API server: which Node the credentials name.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
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
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
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
