// Runs one server per desired resource: diffs each discovery by resource name, starts, updates, stops.
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { describeError } from '../common/logger.js';
import * as grpc from '@grpc/grpc-js';
import { grpcCodeName, KubeletRegistrar } from './kubelet-client.js';
import type { KubeletWatch } from './kubelet-watch.js';
import { PluginLifecycle } from './lifecycle.js';
import { noDevicePluginMetrics, type DevicePluginMetrics, type RegistrationResult } from './metrics.js';
import { sameEndpoint, type ResourceSpec } from './resource.js';
import { ResourceStore } from './resource-store.js';
import { addDevicePluginService, createDevicePluginHandlers, pluginOptionsFor, type StreamObserver } from './service.js';

/** Where one resource's server stands with the kubelet. */
export type ResourcePhase =
  | { kind: 'starting' }
  | { kind: 'waiting'; kubeletSocket: string }
  | { kind: 'registered' }
  | { kind: 'failing'; attempt: number; cause: string }
  | { kind: 'serveFailed'; cause: string }
  | { kind: 'lost'; at: number };

export interface ResourceView {
  spec: ResourceSpec;
  phase: ResourcePhase;
  registrations: number;
  streams: number;
}

export interface ApplyResult {
  started: string[];
  updated: string[];
  stopped: string[];
  unchanged: string[];
}

export interface ManagerOptions {
  dir: string;
  kubeletSocketName: string;
  watch: KubeletWatch;
  clock: Clock;
  logger: Logger;
  /** Something in a resource's phase changed: the daemon refreshes STATUS. */
  onChange: (name: string) => void;
  /** The first registration of a resource since it started. */
  onRegistered?: (name: string, registrations: number) => void;
  random?: () => number;
  /** How long shutdown waits for an empty device list to reach the kubelet. */
  withdrawTimeoutMs?: number;
  metrics?: DevicePluginMetrics;
}

/** A Register that never reached a kubelet able to answer is an error; any answer is a refusal. */
export function registrationResult(err: unknown): RegistrationResult {
  const code = (err as { code?: unknown }).code;
  if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED) return 'error';
  return typeof code === 'number' ? 'refused' : 'error';
}

interface Running {
  store: ResourceStore;
  lifecycle: PluginLifecycle;
  controller: AbortController;
  done: Promise<void>;
  phase: ResourcePhase;
}

export class ResourceManager {
  private readonly running = new Map<string, Running>();
  /** One Registration channel per kubelet start for every resource. */
  private readonly registrar: KubeletRegistrar;
  private readonly metrics: DevicePluginMetrics;

  constructor(private readonly options: ManagerOptions) {
    this.metrics = options.metrics ?? noDevicePluginMetrics;
    this.registrar = new KubeletRegistrar((_identity, first) => {
      if (!first) this.metrics.kubeletRestart();
    });
  }

  /**
   * Makes what runs match the desired set. A resource whose socket and kind stay keeps its
   * server, socket, registration and streams; only a changed device list is sent on them.
   */
  async apply(desired: readonly ResourceSpec[]): Promise<ApplyResult> {
    const result: ApplyResult = { started: [], updated: [], stopped: [], unchanged: [] };
    const wanted = new Map(desired.map((spec) => [spec.name, spec]));
    const stopping: Promise<void>[] = [];
    for (const [name, run] of this.running) {
      const spec = wanted.get(name);
      if (spec === undefined || !sameEndpoint(run.store.get(), spec)) {
        stopping.push(this.stop(name, run));
        if (spec === undefined) {
          result.stopped.push(name);
          this.metrics.resourceGone(name);
        }
      }
    }
    // A replaced endpoint's old socket must be gone before its successor binds the same path.
    await Promise.all(stopping);
    for (const spec of desired) {
      const run = this.running.get(spec.name);
      if (run === undefined) {
        this.start(spec);
        result.started.push(spec.name);
      } else if (run.store.set(spec)) {
        result.updated.push(spec.name);
        this.metrics.devices(spec.name, spec.devices);
        this.options.onChange(spec.name);
      } else {
        result.unchanged.push(spec.name);
      }
    }
    return result;
  }

  /** Withdraws every device list, then closes every socket. */
  async stopAll(): Promise<void> {
    for (const name of this.running.keys()) this.metrics.registered(name, false);
    await Promise.all([...this.running].map(([name, run]) => this.stop(name, run)));
    this.registrar.close();
  }

  views(): ResourceView[] {
    return [...this.running.values()].map((run) => ({
      spec: run.store.get(),
      phase: run.phase,
      registrations: run.lifecycle.registrations,
      streams: run.lifecycle.streamCount,
    }));
  }

  /** For tests and benchmarks: the live store and lifecycle of a resource. */
  get(name: string): { store: ResourceStore; lifecycle: PluginLifecycle } | undefined {
    const run = this.running.get(name);
    return run && { store: run.store, lifecycle: run.lifecycle };
  }

  get size(): number {
    return this.running.size;
  }

  private start(spec: ResourceSpec): void {
    const { options, metrics } = this;
    const store = new ResourceStore(spec);
    const controller = new AbortController();
    // When registering began: this server's start, then each kubelet restart it noticed.
    let since = options.clock.now();
    const setPhase = (phase: ResourcePhase): void => {
      run.phase = phase;
      // A stopped resource's late phase changes must not bring its series back.
      if (this.running.get(spec.name) === run) metrics.registered(spec.name, phase.kind === 'registered');
      options.onChange(spec.name);
    };
    metrics.devices(spec.name, spec.devices);
    metrics.registered(spec.name, false);
    const lifecycle: PluginLifecycle = new PluginLifecycle({
      dir: options.dir,
      socketName: spec.socketName,
      kubeletSocketName: options.kubeletSocketName,
      resourceName: spec.name,
      pluginOptions: pluginOptionsFor(spec.kind),
      addServices: (server: grpc.Server, streams: StreamObserver) =>
        addDevicePluginService(server, createDevicePluginHandlers({ store, logger: options.logger, streams, metrics })),
      clock: options.clock,
      logger: options.logger,
      watch: options.watch,
      registrar: this.registrar,
      observer: {
        waitingForKubelet: (socket) => setPhase({ kind: 'waiting', kubeletSocket: socket }),
        registered: (count) => {
          metrics.registration(spec.name, 'ok', (options.clock.now() - since) / 1000);
          setPhase({ kind: 'registered' });
          options.onRegistered?.(spec.name, count);
        },
        registerFailed: (err, retryInMs, attempt) => {
          const cause = `${grpcCodeName(err)}: ${describeError(err).replace(/^\d+ [A-Z_]+: /, '')}`;
          // The first failures after a kubelet restart are routine (it is not listening yet).
          const line = `failed to register ${spec.name} with kubelet (attempt ${attempt}): ${cause}; retrying in ${retryInMs} ms`;
          if (attempt >= 3) options.logger.warn(line);
          else options.logger.debug(line);
          metrics.registration(spec.name, registrationResult(err));
          setPhase({ kind: 'failing', attempt, cause });
        },
        restarting: (reason) => {
          since = options.clock.now();
          options.logger.debug(`${spec.name}: kubelet restart noticed (${reason}): serving and registering again`);
        },
        serveFailed: (err, retryInMs) => {
          options.logger.error(`failed to serve ${spec.name}: ${describeError(err)}; retrying in ${retryInMs} ms`);
          setPhase({ kind: 'serveFailed', cause: describeError(err) });
        },
        connectionLost: (at) => setPhase({ kind: 'lost', at }),
      },
      registerTimeoutMs: 15_000,
      probeTimeoutMs: 5_000,
      registerBackoff: { initialMs: 20, maxMs: 10_000 },
      ...(options.random ? { random: options.random } : {}),
    });
    const run: Running = {
      store,
      lifecycle,
      controller,
      phase: { kind: 'starting' },
      // run() never throws for kubelet trouble; anything else is a bug worth a loud line, not a crash.
      done: lifecycle.run(controller.signal).catch((err: unknown) => {
        options.logger.error(`${spec.name}: server stopped: ${describeError(err)}`);
      }),
    };
    this.running.set(spec.name, run);
  }

  private async stop(name: string, run: Running): Promise<void> {
    this.running.delete(name);
    await run.store.withdraw(this.options.withdrawTimeoutMs ?? 1000);
    run.controller.abort();
    await run.done;
  }
}
