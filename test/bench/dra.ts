// DRA driver benchmark against the DRA kubelet stand-in and the API server stand-in: GetInfo to
// slices published, a deleted slice to its re-creation, Prepare latency with the claim GET, and
// API writes in a simulated steady hour.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Clock } from '../../src/common/clock.js';
import type { Runtime } from '../../src/common/runtime.js';
import { runDraDriverCommand } from '../../src/dra/command.js';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeDraKubelet } from '../fakes/kubelet-dra.js';
import { scaledClock } from '../fakes/labeller-clock.js';
import { shippedNodeFlags } from '../helpers/shipped-node.js';
import { emitFor, percentile, stopChild, until } from './common.js';

const emit = emitFor('dra');
const ROOT = path.resolve('test/fixtures/roots/jupiter');
const DRIVER = 'runner.riseproject.dev';
const NODE = 'rv-1';

interface Rig {
  api: FakeApiServer;
  kubelet: FakeDraKubelet;
  dir: string;
  args: string[];
  close: () => Promise<void>;
}

async function rig(options: { watchTimeoutMs?: (s: number) => number } = {}): Promise<Rig> {
  const api = new FakeApiServer({ tokens: { tok: `system:node:${NODE}` }, ...options });
  const url = await api.start(0);
  api.createNode(NODE);
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-bdra-'));
  await writeFile(path.join(dir, 'kubeconfig'), api.kubeconfig('tok'));
  await writeFile(path.join(dir, 'config.yaml'), `nodeName: ${NODE}\ndra:\n  resources: [riseproject.com/runner]\ndeviceplugin:\n  deviceCount: 4\n  maintenanceFile: ${path.join(dir, 'maintenance')}\n`);
  const registryDir = path.join(dir, 'registry');
  // The kubelet's reconciler looks once a second; the stand-in looks every 20 ms so the figure is the driver's.
  const kubelet = new FakeDraKubelet({ registryDir, nodeName: NODE, api: { url, token: 'tok' }, scanIntervalMs: 20 });
  const args = ['dra-driver', '--config', path.join(dir, 'config.yaml'), '--kubeconfig', path.join(dir, 'kubeconfig'), '--root', ROOT,
    '--registry-dir', registryDir, '--plugins-dir', path.join(dir, 'plugins'), '--state-dir', path.join(dir, 'state'), '--cdi-dir', dir];
  return {
    api, kubelet, dir, args,
    close: async () => {
      kubelet.stop();
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function startDriver(r: Rig): ChildProcess {
  return spawn(process.execPath, [...shippedNodeFlags(), path.resolve('dist/src/cli.js'), ...r.args], { stdio: 'ignore', env: { ...process.env, NOTIFY_SOCKET: '' } });
}

const ours = (api: FakeApiServer) => api.resource.slicesOf(NODE, DRIVER);

export async function benchDra(): Promise<void> {
  // 1. The kubelet's GetInfo to the pool's slice in the API, the kubelet's start-up wipe included.
  const published: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const r = await rig();
    await r.kubelet.start();
    const child = startDriver(r);
    try {
      await until(() => r.kubelet.getInfoCalls.length > 0, 20_000);
      const t0 = r.kubelet.getInfoCalls[0]?.at ?? 0;
      await until(() => ours(r.api).length === 1 && r.kubelet.wipes.length > 0, 20_000);
      // Stable: present after the wipe that follows GetInfo.
      await until(() => ours(r.api).length === 1, 20_000);
      published.push(Math.max(0, performance.now() - t0));
    } finally {
      await stopChild(child);
      await r.close();
    }
  }
  emit('getinfo_to_slices_published_ms', { p50: percentile(published, 50), max: percentile(published, 100) }, 'ms', { runs: 5, target: '<= 500', note: 'from the GetInfo the stand-in sent to the slice present after its start-up wipe' });

  // 2 and 3 against one running driver.
  const r = await rig();
  await r.kubelet.start();
  const child = startDriver(r);
  try {
    await until(() => r.kubelet.isRegistered(DRIVER) && ours(r.api).length === 1, 20_000);
    const repaired: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const name = ours(r.api)[0]?.metadata.name ?? '';
      const t0 = performance.now();
      r.api.resource.deleteSlice(name);
      await until(() => ours(r.api).length === 1 && ours(r.api)[0]?.metadata.name !== name, 10_000);
      repaired.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 20));
    }
    emit('slice_deleted_to_recreated_ms', { p50: percentile(repaired, 50), p99: percentile(repaired, 99), max: percentile(repaired, 100) }, 'ms', { runs: 30, target: '<= 200' });

    const prepare: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const uid = `claim-${i}`;
      r.api.resource.addPod({ namespace: 'ci', name: `pod-${i}`, uid: `pod-${i}`, nodeName: NODE, claims: [`c-${i}`] });
      r.api.resource.putClaim({
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { namespace: 'ci', name: `c-${i}`, uid }, spec: {},
        status: { allocation: { devices: { results: [{ request: 'runner', driver: DRIVER, pool: NODE, device: `runner-${i % 4}` }] } } },
      });
      const ref = { namespace: 'ci', name: `c-${i}`, uid };
      const t0 = performance.now();
      const answer = await r.kubelet.prepareClaim(DRIVER, ref);
      prepare.push(performance.now() - t0);
      if (answer.error !== '') throw new Error(`bench: Prepare failed: ${answer.error}`);
      await r.kubelet.unprepare(DRIVER, [ref]);
    }
    emit('prepare_ms', { p50: percentile(prepare, 50), p99: percentile(prepare, 99), max: percentile(prepare, 100) }, 'ms', { runs: 200, target: 'p99 <= 50', note: 'NodePrepareResources over the unix socket, including the claim GET and the record written and fsynced' });
  } finally {
    await stopChild(child);
    await r.close();
  }

  // 4. One simulated hour of steady state (the daemon in this process on a clock 500x faster).
  const scale = 500;
  const h = await rig({ watchTimeoutMs: (s) => (s * 1000) / scale });
  await h.kubelet.start();
  const controller = new AbortController();
  const clock: Clock = scaledClock(scale);
  const rt: Runtime = {
    env: {}, stdout: () => undefined, stderr: () => undefined, journal: false, pid: process.pid, hostname: NODE, abi: process.versions.modules,
    nativeDirs: [], clock, monotonicUsec: () => process.hrtime.bigint() / 1000n, onReload: () => () => undefined, signal: controller.signal,
  };
  const argv = h.args;
  const flag = (name: string): string => argv[argv.indexOf(name) + 1] ?? '';
  const done = runDraDriverCommand(
    {
      config: flag('--config'), logLevel: 'error', root: ROOT, devDir: path.join(h.dir, 'dev'), devicePluginDir: h.dir, kubeconfig: flag('--kubeconfig'),
      nodeName: undefined, registryDir: flag('--registry-dir'), pluginsDir: flag('--plugins-dir'), stateDir: flag('--state-dir'), cdiDir: h.dir,
    },
    rt,
  );
  try {
    await until(() => h.kubelet.isRegistered(DRIVER) && ours(h.api).length === 1, 20_000);
    await new Promise((res) => setTimeout(res, 200));
    h.api.resetCounts();
    await new Promise((res) => setTimeout(res, 3_600_000 / scale));
    const reads = h.api.counts.get + h.api.counts.list + h.api.counts.watch;
    emit('api_writes_per_steady_hour', h.api.writes, 'requests', { target: 0, note: `simulated hour (x${scale}); maintenance flag checked every 5 s, rediscovery every 300 s` });
    emit('api_reads_per_steady_hour', reads, 'requests', { detail: { get: h.api.counts.get, list: h.api.counts.list, watch: h.api.counts.watch }, note: 'watches last 300 s and resume from their version' });
  } finally {
    controller.abort();
    await done;
    await h.close();
  }
}
