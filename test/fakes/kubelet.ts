// A kubelet stand-in: the device manager's side of the Device Plugin API v1beta1, as
// ../shared/reference/kubelet-device-plugin.md describes the real kubelet (pkg/kubelet/cm/devicemanager):
// - on start it removes every socket in the directory (plain files and folders stay) and listens
//   on kubelet.sock;
// - Register checks the version and the extended resource name, then, before answering, dials
//   the plugin's socket with :authority "localhost" (10 s, blocking) and calls
//   GetDevicePluginOptions; a plugin that does not answer fails its own registration;
// - then it runs ListAndWatch without a deadline; each response replaces the whole device set,
//   only the exact string "Healthy" counts; when the stream ends allocatable drops to 0;
// - a newer registration of the same resource replaces the older endpoint;
// - Allocate / GetPreferredAllocation are sent one container per call, with no deadline;
//   GetPreferredAllocation only to a plugin whose options say it is available, and an error from
//   it fails the pod's admission;
// - an Allocate answer's cdi_devices go to the container runtime, which resolves each fully
//   qualified name (vendor/class=name) against the CDI specs in /etc/cdi and /var/run/cdi, and
//   fails the container when one does not resolve (resolveCdiDevices models that step).
import { EventEmitter } from 'node:events';
import { lstat, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../../src/generated/api.js';
import type { DevicePluginClient } from '../../src/generated/v1beta1/DevicePlugin.js';
import type { DevicePluginOptions__Output } from '../../src/generated/v1beta1/DevicePluginOptions.js';
import type { AllocateResponse__Output } from '../../src/generated/v1beta1/AllocateResponse.js';
import type { PreferredAllocationResponse__Output } from '../../src/generated/v1beta1/PreferredAllocationResponse.js';
import type { RegisterRequest__Output } from '../../src/generated/v1beta1/RegisterRequest.js';
import type { RegistrationHandlers } from '../../src/generated/v1beta1/Registration.js';
import { devicePluginApi } from '../../src/deviceplugin/proto.js';

export const SUPPORTED_VERSIONS = ['v1beta1'];

export interface FakeDevice {
  ID: string;
  health: string;
  /** The NUMA nodes of its topology, when the plugin sent one (the topology manager reads them). */
  numa?: number[];
}

export interface Registration {
  resourceName: string;
  endpoint: string;
  version: string;
  options: { pre_start_required: boolean; get_preferred_allocation_available: boolean };
  /** performance.now() when Register arrived. */
  at: number;
  /** Which start of the kubelet (1, 2, …) it reached. */
  generation: number;
}

export interface PreferredCall {
  resourceName: string;
  available: string[];
  mustInclude: string[];
  size: number;
  /** The plugin's answer, or its error. */
  deviceIDs?: string[];
  error?: string;
}

export interface DeviceUpdate {
  resourceName: string;
  devices: FakeDevice[];
  at: number;
}

interface Endpoint {
  resourceName: string;
  client: DevicePluginClient;
  stream: grpc.ClientReadableStream<unknown> | undefined;
  devices: FakeDevice[];
  streaming: boolean;
}

export interface FakeKubeletOptions {
  /** The device-plugins directory. */
  dir: string;
  /** Refuse the next N registrations with an error, as a kubelet that is not ready would. */
  refuseRegistrations?: number;
  /** How long Register waits to reach the plugin; the kubelet's is 10 s. */
  dialTimeoutMs?: number;
}

/** Resource-name rule the kubelet applies (IsExtendedResourceName), written independently here. */
export function kubeletAcceptsResourceName(name: string): boolean {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/.exec(name);
  if (!m) return false;
  const domain = m[1] ?? '';
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) return false;
  // The kubelet validates "requests.<name>" as a qualified name: prefix ≤ 253, name ≤ 63.
  return `requests.${domain}`.length <= 253 && (m[5] ?? '').length <= 63;
}

export class FakeKubelet extends EventEmitter {
  readonly dir: string;
  readonly socketPath: string;
  readonly registrations: Registration[] = [];
  readonly updates: DeviceUpdate[] = [];
  /** ListAndWatch streams opened per resource: an unchanged resource across a reload opens none. */
  readonly streamsOpened = new Map<string, number>();
  /** Every GetPreferredAllocation sent, with the answer. */
  readonly preferredCalls: PreferredCall[] = [];
  refuseRegistrations: number;
  readonly dialTimeoutMs: number;
  /** performance.now() when kubelet.sock last started listening. */
  listeningAt = 0;
  generation = 0;
  private server: grpc.Server | undefined;
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(options: FakeKubeletOptions) {
    super();
    this.dir = options.dir;
    this.socketPath = path.join(options.dir, 'kubelet.sock');
    this.refuseRegistrations = options.refuseRegistrations ?? 0;
    this.dialTimeoutMs = options.dialTimeoutMs ?? 10_000;
  }

  /**
   * Starts as the kubelet does: remove every socket in the directory, then listen. Tests may
   * skip the sweep to produce the other restart signal alone (kubelet.sock replaced).
   */
  async start(options: { removeSockets?: boolean } = {}): Promise<void> {
    if (options.removeSockets ?? true) await removeSockets(this.dir);
    const server = new grpc.Server();
    const handlers: RegistrationHandlers = {
      Register: (call, callback) => {
        this.register(call.request).then(
          () => callback(null, {}),
          (err: unknown) => callback({ code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) }),
        );
      },
    };
    server.addService(devicePluginApi().Registration.service, handlers);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
    this.generation += 1;
    this.listeningAt = performance.now();
    this.emit('listening', this.generation);
  }

  /** Stops as a killed kubelet does: the server and every plugin connection go; files stay. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    for (const endpoint of this.endpoints.values()) this.closeEndpoint(endpoint);
    this.endpoints.clear();
  }

  /** A kubelet restart, the kubelet's way: stop, remove every socket in the directory, listen again. */
  async restart(): Promise<void> {
    this.stop();
    await this.start();
  }

  private async register(req: RegisterRequest__Output): Promise<void> {
    const at = performance.now();
    if (!SUPPORTED_VERSIONS.includes(req.version)) {
      throw new Error(`Requested device plugin version ${req.version} is not supported; supported versions: ${SUPPORTED_VERSIONS.join(',')}`);
    }
    if (!kubeletAcceptsResourceName(req.resource_name)) {
      throw new Error(`invalid name of device plugin socket: ${req.resource_name} is not an extended resource name`);
    }
    if (this.refuseRegistrations > 0) {
      this.refuseRegistrations -= 1;
      throw new Error('device manager is not ready to accept registrations');
    }
    // The kubelet serves each Register on a goroutine of its own: one plugin's dial-back never
    // delays the arrival of the next plugin's Register. Sharing one thread here, the dial-back
    // (a channel to build) waits until the calls that arrived with this one are stamped too.
    await new Promise((resolve) => setImmediate(resolve));
    const api = devicePluginApi();
    const client = new api.DevicePlugin(`unix:${path.join(this.dir, req.endpoint)}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
    });
    // Dial back before answering, as the kubelet does: a plugin not yet serving fails here.
    let options: DevicePluginOptions__Output;
    try {
      options = await new Promise<DevicePluginOptions__Output>((resolve, reject) => {
        client.waitForReady(new Date(Date.now() + this.dialTimeoutMs), (err) => {
          if (err) return reject(err);
          client.GetDevicePluginOptions({}, { deadline: new Date(Date.now() + this.dialTimeoutMs) }, (e, o) => (e || !o ? reject(e ?? new Error('no options')) : resolve(o)));
        });
      });
    } catch (err) {
      client.close();
      throw new Error(`failed to dial device plugin: ${err instanceof Error ? err.message : String(err)}`);
    }
    const registration: Registration = {
      resourceName: req.resource_name,
      endpoint: req.endpoint,
      version: req.version,
      options: {
        pre_start_required: options.pre_start_required,
        get_preferred_allocation_available: options.get_preferred_allocation_available,
      },
      at,
      generation: this.generation,
    };
    // A newer registration of the same resource replaces the older endpoint.
    const old = this.endpoints.get(req.resource_name);
    if (old) this.closeEndpoint(old);
    const endpoint: Endpoint = { resourceName: req.resource_name, client, stream: undefined, devices: [], streaming: true };
    this.endpoints.set(req.resource_name, endpoint);
    this.registrations.push(registration);
    this.emit('registered', registration);
    // The kubelet starts ListAndWatch after answering Register.
    setImmediate(() => this.listAndWatch(endpoint));
  }

  private listAndWatch(endpoint: Endpoint): void {
    if (this.endpoints.get(endpoint.resourceName) !== endpoint) return;
    const stream = endpoint.client.ListAndWatch({});
    endpoint.stream = stream;
    this.streamsOpened.set(endpoint.resourceName, (this.streamsOpened.get(endpoint.resourceName) ?? 0) + 1);
    stream.on('data', (msg: { devices: Array<{ ID: string; health: string; topology?: { nodes?: Array<{ ID: number | string }> } | null }> }) => {
      // Each response replaces the whole set.
      endpoint.devices = msg.devices.map((d) => {
        const numa = (d.topology?.nodes ?? []).map((n) => Number(n.ID));
        return numa.length > 0 ? { ID: d.ID, health: d.health, numa } : { ID: d.ID, health: d.health };
      });
      const update = { resourceName: endpoint.resourceName, devices: endpoint.devices, at: performance.now() };
      this.updates.push(update);
      this.emit('devices', update);
    });
    const ended = (): void => {
      if (!endpoint.streaming) return;
      endpoint.streaming = false;
      this.emit('streamEnded', endpoint.resourceName);
    };
    stream.on('error', ended);
    stream.on('end', ended);
  }

  private closeEndpoint(endpoint: Endpoint): void {
    endpoint.streaming = false;
    endpoint.stream?.cancel();
    endpoint.client.close();
  }

  /** Resources with a live ListAndWatch stream. */
  streamingResources(): string[] {
    return [...this.endpoints.values()].filter((e) => e.streaming).map((e) => e.resourceName).sort();
  }

  /** All devices of the resource, as node capacity counts them. */
  capacity(resourceName: string): number {
    return this.endpoints.get(resourceName)?.devices.length ?? 0;
  }

  /** Healthy devices of a live stream: only the exact string "Healthy" counts; 0 once the stream ended. */
  allocatable(resourceName: string): number {
    const endpoint = this.endpoints.get(resourceName);
    if (!endpoint?.streaming) return 0;
    return endpoint.devices.filter((d) => d.health === 'Healthy').length;
  }

  devices(resourceName: string): FakeDevice[] {
    return this.endpoints.get(resourceName)?.devices ?? [];
  }

  /** One container per call, no deadline, as the kubelet sends it. */
  allocate(resourceName: string, deviceIds: string[]): Promise<AllocateResponse__Output> {
    const endpoint = this.endpoints.get(resourceName);
    if (!endpoint) return Promise.reject(new Error(`no endpoint for ${resourceName}`));
    return new Promise((resolve, reject) =>
      endpoint.client.Allocate({ container_requests: [{ devices_ids: deviceIds }] }, (err, res) => (err || !res ? reject(err) : resolve(res))),
    );
  }

  /**
   * GetPreferredAllocation, one container per call, as the kubelet sends it: only when the
   * resource's registration said get_preferred_allocation_available, else the kubelet picks on
   * its own and this resolves undefined without a call. A plugin error rejects: the kubelet
   * fails the pod's admission with it.
   */
  async preferredAllocation(resourceName: string, available: string[], mustInclude: string[], size: number): Promise<string[] | undefined> {
    const endpoint = this.endpoints.get(resourceName);
    if (!endpoint) throw new Error(`no endpoint for ${resourceName}`);
    const registration = [...this.registrations].reverse().find((r) => r.resourceName === resourceName);
    if (!registration?.options.get_preferred_allocation_available) return undefined;
    const call: PreferredCall = { resourceName, available, mustInclude, size };
    this.preferredCalls.push(call);
    try {
      const res = await new Promise<PreferredAllocationResponse__Output>((resolve, reject) =>
        endpoint.client.GetPreferredAllocation(
          { container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: mustInclude, allocation_size: size }] },
          (err, r) => (err || !r ? reject(err) : resolve(r)),
        ),
      );
      call.deviceIDs = res.container_responses[0]?.deviceIDs ?? [];
      return call.deviceIDs;
    } catch (err) {
      call.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  client(resourceName: string): DevicePluginClient | undefined {
    return this.endpoints.get(resourceName)?.client;
  }

  /** Resolves when the predicate holds, checked on every event; rejects after timeoutMs. */
  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const events = ['registered', 'devices', 'streamEnded', 'listening'];
      const check = (): void => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake kubelet: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        for (const e of events) this.off(e, check);
      };
      for (const e of events) this.on(e, check);
    });
  }
}

export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  permissions?: string;
}

/**
 * The runtime's step after Allocate (containerd ≥ 1.7 with enable_cdi, CRI-O): every `.json` or
 * `.yaml` spec in the directories, later directories overriding earlier ones for the same kind,
 * each name `vendor/class=device` resolved to that device's containerEdits plus the spec's own,
 * device nodes merged by path. A name that is not fully qualified or that no spec has fails
 * the whole container, as the runtime fails it ("unresolvable CDI devices").
 */
export async function resolveCdiDevices(dirs: readonly string[], names: readonly string[]): Promise<CdiDeviceNode[]> {
  interface Spec {
    kind: string;
    containerEdits?: { deviceNodes?: CdiDeviceNode[] };
    devices: Array<{ name: string; containerEdits?: { deviceNodes?: CdiDeviceNode[] } }>;
  }
  const byKind = new Map<string, Spec>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    } catch {
      continue;
    }
    for (const f of files) {
      const spec = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as Spec;
      byKind.set(spec.kind, spec);
    }
  }
  const nodes = new Map<string, CdiDeviceNode>();
  const unresolved: string[] = [];
  for (const name of names) {
    const m = /^([A-Za-z][A-Za-z0-9_.-]*)\/([A-Za-z][A-Za-z0-9_-]*)=([A-Za-z0-9][A-Za-z0-9_.:-]*)$/.exec(name);
    const spec = m ? byKind.get(`${m[1]}/${m[2]}`) : undefined;
    const device = spec?.devices.find((d) => d.name === m?.[3]);
    if (!spec || !device) {
      unresolved.push(name);
      continue;
    }
    for (const n of [...(spec.containerEdits?.deviceNodes ?? []), ...(device.containerEdits?.deviceNodes ?? [])]) nodes.set(n.path, n);
  }
  if (unresolved.length > 0) throw new Error(`unresolvable CDI devices ${unresolved.join(', ')}`);
  return [...nodes.values()];
}

/** Removes every unix socket directly in dir; plain files and folders stay, as the kubelet does. */
export async function removeSockets(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if ((await lstat(file)).isSocket()) {
        await unlink(file);
        removed.push(name);
      }
    } catch {
      // Gone already.
    }
  }
  return removed;
}

export type { ProtoGrpcType };
