// A kubelet stand-in for DRA: its plugin watcher and DRA plugin manager, as
// ../shared/reference/kubelet-dra.md (§1, §2, §9) describes the v1.34 kubelet:
// - it watches plugins_registry (subdirectories too) for unix sockets whose name does not start
//   with "."; the reconciler looks once per scan interval (the kubelet's is 1 s);
// - for a new socket: dial (10 s), GetInfo (1 s deadline), type must be "DRAPlugin", the first
//   entry of the plugin's supported_versions that it knows (v1.DRAPlugin, v1beta1.DRAPlugin)
//   wins, an empty endpoint means the registration socket itself, an endpoint already registered
//   for the driver is refused; validation failures get Notify(false, …) and GetInfo again with
//   backoff from 500 ms; then it connects to the endpoint, and sends Notify(true) 10–40 ms later;
//   a failure there is not retried until the socket is recreated;
// - a recreated socket (a new inode) is unregistered and registered again; a removed one is
//   unregistered about a second later, with no RPC to the plugin, and 30 s after the driver's
//   last instance went the driver's ResourceSlices on the node are deleted;
// - at start it registers every socket it finds and deletes all ResourceSlices of its node
//   (every driver) 14–23 ms after the first GetInfo, racing the Notify;
// - Prepare/Unprepare: one call per driver with only namespace, uid and name of each claim, a 45 s
//   deadline; every claim must be answered and no unknown UID may be; a driver that is not
//   registered fails the call before any RPC ("DRA driver X is not registered").
import { EventEmitter } from 'node:events';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { draV1Api, draV1beta1Api, registrationApi } from '../../src/dra/proto.js';
import type { PluginInfo__Output } from '../../src/generated/pluginregistration/pluginregistration/PluginInfo.js';
import type { DRAPluginClient } from '../../src/generated/dra-v1/k8s/io/kubelet/pkg/apis/dra/v1/DRAPlugin.js';
import type { NodePrepareResourceResponse__Output } from '../../src/generated/dra-v1/k8s/io/kubelet/pkg/apis/dra/v1/NodePrepareResourceResponse.js';

/** What a 1.34 kubelet accepts in supported_versions. */
export const KUBELET_DRA_SERVICES = ['v1.DRAPlugin', 'v1beta1.DRAPlugin'];

export interface ClaimRef {
  namespace: string;
  uid: string;
  name: string;
}

export interface DraRegistration {
  driver: string;
  endpoint: string;
  socket: string;
  service: string;
  /** performance.now() when GetInfo was answered and when Notify(true) was sent. */
  infoAt: number;
  notifiedAt: number;
  generation: number;
}

export interface NotifyRecord {
  socket: string;
  registered: boolean;
  error: string;
  at: number;
}

interface Instance extends DraRegistration {
  client: DRAPluginClient;
  ino: number;
}

interface Seen {
  ino: number;
  /** Validation failures: retry GetInfo after this (performance.now()). */
  retryAt: number;
  backoffMs: number;
  /** Registered, or refused in a way the kubelet does not retry. */
  settled: boolean;
  busy: boolean;
  /** When the socket was first seen missing; unregistered a second later. */
  goneAt?: number;
}

export interface FakeDraKubeletOptions {
  /** plugins_registry. */
  registryDir: string;
  nodeName: string;
  /** The API server and a token of this node's identity, for the slice wipes; none: no wipes. */
  api?: { url: string; token: string };
  scanIntervalMs?: number;
  dialTimeoutMs?: number;
  /** After the last instance of a driver went; the kubelet's is 30 s. */
  wipingDelayMs?: number;
  /** Removal to unregistration; the kubelet takes about a second. */
  unregisterDelayMs?: number;
  /** First GetInfo of a start to the node-wide wipe; 14–23 ms were seen. */
  startWipeAfterMs?: number;
}

export class FakeDraKubelet extends EventEmitter {
  readonly registrations: DraRegistration[] = [];
  readonly notifications: NotifyRecord[] = [];
  readonly getInfoCalls: Array<{ socket: string; at: number }> = [];
  readonly wipes: Array<{ selector: string; status: number; at: number }> = [];
  generation = 0;
  private readonly instances = new Map<string, Instance>();
  private readonly seen = new Map<string, Seen>();
  private readonly wipeTimers = new Map<string, NodeJS.Timeout>();
  private scanTimer: NodeJS.Timeout | undefined;
  private startWipePending = false;
  private running = false;

  constructor(private readonly options: FakeDraKubeletOptions) {
    super();
  }

  async start(): Promise<void> {
    await mkdir(this.options.registryDir, { recursive: true, mode: 0o755 });
    this.generation += 1;
    this.running = true;
    this.startWipePending = true;
    const first = await this.scan();
    // No plugin to race with: the wipe runs at once.
    if (!first && this.startWipePending) this.startWipe();
    this.scanTimer = setInterval(() => void this.scan(), this.options.scanIntervalMs ?? 1000);
  }

  /** A killed kubelet: no more scans, every plugin connection closed; files stay. */
  stop(): void {
    this.running = false;
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    for (const t of this.wipeTimers.values()) clearTimeout(t);
    this.wipeTimers.clear();
    for (const i of this.instances.values()) i.client.close();
    this.instances.clear();
    this.seen.clear();
  }

  async restart(): Promise<void> {
    this.stop();
    await this.start();
  }

  /** Registered instances, newest last. */
  plugins(): DraRegistration[] {
    return [...this.instances.values()].map(({ client: _c, ino: _i, ...r }) => r).sort((a, b) => a.notifiedAt - b.notifiedAt);
  }

  isRegistered(driver: string): boolean {
    return [...this.instances.values()].some((i) => i.driver === driver);
  }

  /** Walks the registry directory recursively; true when it started a registration. */
  private async scan(): Promise<boolean> {
    if (!this.running) return false;
    const sockets = await findSockets(this.options.registryDir);
    let started = false;
    const now = performance.now();
    for (const [socket, ino] of sockets) {
      const known = this.seen.get(socket);
      if (known && known.ino !== ino) {
        // Recreated: a new entry in the desired state; the old registration goes first.
        this.unregister(socket);
      }
      const entry = this.seen.get(socket) ?? { ino, retryAt: 0, backoffMs: 500, settled: false, busy: false };
      delete entry.goneAt;
      this.seen.set(socket, entry);
      if (entry.settled || entry.busy || entry.retryAt > now) continue;
      entry.busy = true;
      started = true;
      void this.register(socket, entry).finally(() => (entry.busy = false));
    }
    for (const [socket, entry] of this.seen) {
      if (sockets.has(socket)) continue;
      entry.goneAt ??= now;
      if (now - entry.goneAt >= (this.options.unregisterDelayMs ?? 1000)) this.unregister(socket);
    }
    return started;
  }

  private unregister(socket: string): void {
    this.seen.delete(socket);
    const instance = this.instances.get(socket);
    if (!instance) return;
    this.instances.delete(socket);
    instance.client.close();
    this.emit('unregistered', instance.driver);
    if (!this.isRegistered(instance.driver)) this.scheduleDriverWipe(instance.driver);
  }

  private scheduleDriverWipe(driver: string): void {
    if (this.wipeTimers.has(driver)) return;
    const timer = setTimeout(() => {
      this.wipeTimers.delete(driver);
      void this.wipe(`spec.nodeName=${this.options.nodeName},spec.driver=${driver}`);
    }, this.options.wipingDelayMs ?? 30_000);
    this.wipeTimers.set(driver, timer);
  }

  private startWipe(): void {
    this.startWipePending = false;
    void this.wipe(`spec.nodeName=${this.options.nodeName}`);
  }

  /** DeleteCollection with the node's own credentials, retried while the API server refuses. */
  private async wipe(selector: string): Promise<void> {
    const api = this.options.api;
    if (!api) return;
    for (let attempt = 0; attempt < 5 && this.running; attempt += 1) {
      const url = `${api.url}/apis/resource.k8s.io/v1/resourceslices?fieldSelector=${encodeURIComponent(selector)}`;
      let code = 0;
      try {
        const res = await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${api.token}` } });
        code = res.status;
        await res.arrayBuffer();
      } catch {
        code = 0;
      }
      this.wipes.push({ selector, status: code, at: performance.now() });
      this.emit('wiped', selector);
      if (code === 200) return;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }

  private notify(socket: string, client: InstanceType<ReturnType<typeof registrationApi>['Registration']>, registered: boolean, error: string): Promise<void> {
    this.notifications.push({ socket, registered, error, at: performance.now() });
    this.emit('notified', { socket, registered, error });
    return new Promise((resolve) =>
      client.NotifyRegistrationStatus({ plugin_registered: registered, error }, { deadline: new Date(Date.now() + 5000) }, () => resolve()),
    );
  }

  private async register(socket: string, entry: Seen): Promise<void> {
    const reg = new (registrationApi().Registration)(`unix:${socket}`, grpc.credentials.createInsecure());
    try {
      const ready = await new Promise<Error | undefined>((resolve) =>
        reg.waitForReady(new Date(Date.now() + (this.options.dialTimeoutMs ?? 10_000)), (err) => resolve(err ?? undefined)),
      );
      if (ready) return this.retryLater(entry);
      const at = performance.now();
      this.getInfoCalls.push({ socket, at });
      this.emit('getInfo', socket);
      const info = await new Promise<PluginInfo__Output | Error>((resolve) =>
        reg.GetInfo({}, { deadline: new Date(Date.now() + 1000) }, (err, res) => resolve(err ?? res ?? new Error('empty GetInfo'))),
      );
      if (this.startWipePending) setTimeout(() => this.startWipe(), this.options.startWipeAfterMs ?? 15);
      if (info instanceof Error) return this.retryLater(entry);
      if (info.type !== 'DRAPlugin') {
        await this.notify(socket, reg, false, `RegisterPlugin error -- no handler registered for plugin type: ${info.type} at socket ${socket}`);
        return this.retryLater(entry);
      }
      const service = info.supported_versions.find((v) => KUBELET_DRA_SERVICES.includes(v));
      if (service === undefined) {
        await this.notify(socket, reg, false, `RegisterPlugin error -- plugin validation failed with err: none of the versions supported by the plugin (${info.supported_versions.join(', ')}) is supported by the kubelet (${KUBELET_DRA_SERVICES.join(', ')})`);
        return this.retryLater(entry);
      }
      entry.settled = true;
      const endpoint = info.endpoint === '' ? socket : info.endpoint;
      if ([...this.instances.values()].some((i) => i.driver === info.name && i.endpoint === endpoint)) {
        await this.notify(socket, reg, false, `RegisterPlugin error -- plugin registration failed with err: endpoint ${endpoint} already registered for DRA driver plugin ${info.name}`);
        return;
      }
      const Client = service === 'v1.DRAPlugin' ? draV1Api().DRAPlugin : draV1beta1Api().DRAPlugin;
      const client = new Client(`unix:${endpoint}`, grpc.credentials.createInsecure()) as unknown as DRAPluginClient;
      const connected = await new Promise<Error | undefined>((resolve) =>
        client.waitForReady(new Date(Date.now() + (this.options.dialTimeoutMs ?? 10_000)), (err) => resolve(err ?? undefined)),
      );
      if (connected || !this.running) {
        client.close();
        if (this.running) await this.notify(socket, reg, false, `RegisterPlugin error -- plugin registration failed with err: ${connected?.message ?? 'stopped'}`);
        return;
      }
      const timer = this.wipeTimers.get(info.name);
      if (timer) clearTimeout(timer);
      this.wipeTimers.delete(info.name);
      await new Promise((r) => setTimeout(r, 10));
      const registration: DraRegistration = { driver: info.name, endpoint, socket, service, infoAt: at, notifiedAt: performance.now(), generation: this.generation };
      this.instances.set(socket, { ...registration, client, ino: entry.ino });
      this.registrations.push(registration);
      await this.notify(socket, reg, true, '');
      this.emit('registered', registration);
    } finally {
      reg.close();
    }
  }

  private retryLater(entry: Seen): void {
    entry.retryAt = performance.now() + entry.backoffMs;
    entry.backoffMs = Math.min(entry.backoffMs * 2, 122_000);
  }

  private clientFor(driver: string): DRAPluginClient {
    const instance = [...this.instances.values()].filter((i) => i.driver === driver).sort((a, b) => b.notifiedAt - a.notifiedAt)[0];
    if (!instance) throw new Error(`DRA driver ${driver} is not registered`);
    return instance.client;
  }

  /** NodePrepareResources as the kubelet sends and reads it; resolves to the per-claim results. */
  async prepare(driver: string, claims: ClaimRef[]): Promise<Record<string, NodePrepareResourceResponse__Output>> {
    const client = this.clientFor(driver);
    return new Promise((resolve, reject) =>
      client.NodePrepareResources({ claims }, { deadline: new Date(Date.now() + 45_000) }, (err, res) => {
        if (err || !res) return reject(new Error(`NodePrepareResources: ${err?.message ?? 'no response'}`));
        const problem = answerProblem('NodePrepareResources', claims, res.claims);
        return problem ? reject(new Error(problem)) : resolve(res.claims);
      }),
    );
  }

  prepareClaim(driver: string, claim: ClaimRef): Promise<NodePrepareResourceResponse__Output> {
    return this.prepare(driver, [claim]).then((r) => r[claim.uid] ?? { devices: [], error: '' });
  }

  async unprepare(driver: string, claims: ClaimRef[]): Promise<Record<string, { error: string }>> {
    const client = this.clientFor(driver);
    return new Promise((resolve, reject) =>
      client.NodeUnprepareResources({ claims }, { deadline: new Date(Date.now() + 45_000) }, (err, res) => {
        if (err || !res) return reject(new Error(`NodeUnprepareResources: ${err?.message ?? 'no response'}`));
        const problem = answerProblem('NodeUnprepareResources', claims, res.claims);
        return problem ? reject(new Error(problem)) : resolve(res.claims);
      }),
    );
  }

  /** Resolves when the predicate holds, checked on every event and every 20 ms; rejects after timeoutMs. */
  waitFor(predicate: () => boolean, timeoutMs = 10_000, what: string | (() => string) = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const events = ['registered', 'unregistered', 'notified', 'getInfo', 'wiped'];
      const poll = setInterval(() => check(), 20);
      const check = (): void => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        // A function describes the state at the timeout, for a failure that says what did happen.
        reject(new Error(`fake DRA kubelet: timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        for (const e of events) this.off(e, check);
      };
      for (const e of events) this.on(e, check);
    });
  }
}

/** The kubelet's reading of a per-claim map: every claim answered, no unknown UID, errors per claim. */
function answerProblem(call: string, claims: readonly ClaimRef[], answers: Record<string, { error: string }>): string | undefined {
  const asked = new Set(claims.map((c) => c.uid));
  const unknown = Object.keys(answers).filter((uid) => !asked.has(uid));
  if (unknown.length > 0) return `${call}: unexpected claim UID ${unknown.join(', ')}`;
  const skipped = claims.filter((c) => answers[c.uid] === undefined).length;
  if (skipped > 0) return `${call} skipped ${skipped} ResourceClaims`;
  return undefined;
}

/** Unix sockets under dir (recursively), not starting with ".", with their inode. */
export async function findSockets(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isSocket()) {
        try {
          out.set(full, (await lstat(full)).ino);
        } catch {
          // Gone between readdir and lstat.
        }
      }
    }
  };
  await walk(dir);
  return out;
}
