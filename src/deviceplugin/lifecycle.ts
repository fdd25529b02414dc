// Owns one resource's socket: serve, prove it answers, register, notice a kubelet restart, do it again.
import { lstatSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { removeIfPresentSync } from '../common/atomic-file.js';
import { Backoff } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import { Wakeup } from '../common/dirwatch.js';
import type { Logger } from '../common/logger.js';
import { describeError } from '../common/logger.js';
import type { DevicePluginOptions } from '../generated/v1beta1/DevicePluginOptions.js';
import { KubeletRegistrar, probeDevicePlugin } from './kubelet-client.js';
import type { KubeletWatch } from './kubelet-watch.js';
import type { StreamObserver } from './service.js';
import { API_VERSION } from './proto.js';

/** What the lifecycle reports, for logs and systemd status; it decides nothing. */
export interface LifecycleObserver {
  waitingForKubelet(kubeletSocket: string): void;
  registered(registrations: number): void;
  registerFailed(err: unknown, retryInMs: number, attempt: number): void;
  restarting(reason: string): void;
  serveFailed(err: unknown, retryInMs: number): void;
  /** Every ListAndWatch stream ended from the kubelet's side while its socket stayed: it stopped. */
  connectionLost(at: number): void;
}

export interface PluginLifecycleOptions {
  /** The device-plugins directory: kubelet.sock and our socket live here. */
  dir: string;
  socketName: string;
  kubeletSocketName: string;
  resourceName: string;
  pluginOptions: DevicePluginOptions;
  /** Adds the DevicePlugin service (and any other) to the server, once. */
  addServices: (server: grpc.Server, streams: StreamObserver) => void;
  clock: Clock;
  logger: Logger;
  observer: LifecycleObserver;
  /** The shared watch of the device-plugins directory: its events and ticks wake this server. */
  watch: KubeletWatch;
  /** The Registration channel shared by every resource; one of its own when absent. */
  registrar?: KubeletRegistrar;
  registerTimeoutMs: number;
  probeTimeoutMs: number;
  registerBackoff: { initialMs: number; maxMs: number };
  random?: () => number;
}

/** A file's identity: inode numbers are reused at once on delete+create, ctime tells them apart. */
type FileId = string;

/**
 * Synchronous on purpose: an lstat in a local directory takes microseconds, while the promise
 * form queues on libuv's four threads. After a kubelet restart every resource's server checks
 * its socket and kubelet.sock at once, and with fifty resources that queue, not the work, was
 * most of the time to register again.
 */
async function fileId(file: string): Promise<FileId | undefined> {
  const st = lstatSync(file, { throwIfNoEntry: false });
  return st === undefined ? undefined : `${st.dev}:${st.ino}:${st.ctimeMs}`;
}

export class PluginLifecycle {
  private readonly wakeup = new Wakeup();
  private readonly ourSocket: string;
  private readonly kubeletSocket: string;
  /**
   * One gRPC server for the life of this lifecycle, fed the connections of a listener that is
   * made anew each time we serve. Building a server with its service costs four times what
   * listening does, and after a kubelet restart every resource serves again at once.
   */
  private server: grpc.Server | undefined;
  private injector: grpc.ConnectionInjector | undefined;
  private listener: net.Server | undefined;
  /** Connections accepted by the current listener: our teardown ends them, channelz is not needed. */
  private readonly connections = new Set<net.Socket>();
  private servedId: FileId | undefined;
  private registeredKubeletId: FileId | undefined;
  private registrationCount = 0;
  private openStreams = 0;
  /** Bumped each time we serve and tear down, so streams of an earlier listener are told apart. */
  private generation = 0;

  private readonly registrar: KubeletRegistrar;
  private readonly ownRegistrar: boolean;

  constructor(private readonly options: PluginLifecycleOptions) {
    this.ownRegistrar = options.registrar === undefined;
    this.registrar = options.registrar ?? new KubeletRegistrar();
    this.ourSocket = path.join(options.dir, options.socketName);
    this.kubeletSocket = path.join(options.dir, options.kubeletSocketName);
  }

  get socketPath(): string {
    return this.ourSocket;
  }

  /** Successful registrations so far (one per kubelet start we noticed). */
  get registrations(): number {
    return this.registrationCount;
  }

  /** Something suggests the kubelet changed: look now. */
  hint(): void {
    this.wakeup.wake();
  }

  /**
   * The handlers' view of the kubelet's streams. A stream counts for the generation it opened in:
   * one of an earlier listener (cancelled by our own teardown) no longer counts when it ends.
   */
  private readonly streams: StreamObserver = {
    opened: () => {
      const generation = this.generation;
      this.openStreams += 1;
      return () => {
        if (generation !== this.generation) return;
        this.openStreams = Math.max(0, this.openStreams - 1);
        if (this.openStreams === 0) this.options.observer.connectionLost(this.options.clock.now());
        this.wakeup.wake();
      };
    },
  };

  /** Open ListAndWatch streams right now. */
  get streamCount(): number {
    return this.openStreams;
  }

  /** Runs until the signal aborts; never throws for kubelet trouble, only retries. */
  async run(signal: AbortSignal): Promise<void> {
    const { options } = this;
    // Only events about kubelet.sock or our own socket (and ticks) can change what we decide.
    const unsubscribe = options.watch.subscribe((filename) => {
      if (filename === undefined || filename === options.kubeletSocketName || filename === options.socketName) this.wakeup.wake();
    });
    const serveBackoff = new Backoff({ initialMs: 100, maxMs: 10_000, ...(options.random ? { random: options.random } : {}) });
    try {
      while (!signal.aborted) {
        if (!(await this.waitForKubelet(signal))) break;
        try {
          await this.serve();
          serveBackoff.reset();
        } catch (err) {
          await this.teardown();
          const delay = serveBackoff.next();
          options.observer.serveFailed(err, delay);
          await this.wakeup.wait(options.clock, delay, signal);
          continue;
        }
        if (await this.registerUntilAccepted(signal)) {
          await this.waitForRestart(signal);
        }
        await this.teardown();
      }
    } finally {
      unsubscribe();
      await this.teardown({ graceful: true });
      this.injector?.destroy();
      this.server?.forceShutdown();
      this.injector = undefined;
      this.server = undefined;
      if (this.ownRegistrar) this.registrar.close();
    }
  }

  private async waitForKubelet(signal: AbortSignal): Promise<boolean> {
    let told = false;
    while (!signal.aborted) {
      const kubelet = await fileId(this.kubeletSocket);
      if (kubelet !== undefined) {
        // Shared by every resource: the first one here opens it, while all of them bind.
        this.registrar.connect(this.kubeletSocket, kubelet);
        return true;
      }
      if (!told) this.options.observer.waitingForKubelet(this.kubeletSocket);
      told = true;
      await this.wakeup.wait(this.options.clock, undefined, signal);
    }
    return false;
  }

  private injectorFor(): grpc.ConnectionInjector {
    if (this.injector === undefined) {
      // channelz off: it keeps a registry entry per connection, and we track ours ourselves.
      const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
      this.options.addServices(server, this.streams);
      this.server = server;
      this.injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    }
    return this.injector;
  }

  private async serve(): Promise<void> {
    removeStaleSocket(this.ourSocket);
    const injector = this.injectorFor();
    this.generation += 1;
    this.openStreams = 0;
    const listener = net.createServer((socket) => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
      injector.injectConnection(socket);
    });
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (err) => reject(new Error(`failed to serve on ${this.ourSocket}: ${err.message}`)));
      listener.listen(this.ourSocket, () => {
        listener.removeAllListeners('error');
        // Once listening, an error is a failed accept (out of file descriptors): the connection
        // is lost, not the socket, and the kubelet dials again.
        listener.on('error', (err) => this.options.logger.warn(`failed to accept a connection on ${this.ourSocket}: ${err.message}`));
        resolve();
      });
    });
    this.servedId = await fileId(this.ourSocket);
    // The kubelet dials back during Register and fails it if we do not answer: prove we do.
    await probeDevicePlugin(this.ourSocket, this.options.probeTimeoutMs);
  }

  /** Registers, retrying with backoff; false when a restart or shutdown interrupted it. */
  private async registerUntilAccepted(signal: AbortSignal): Promise<boolean> {
    const { options } = this;
    const backoff = new Backoff({ ...options.registerBackoff, ...(options.random ? { random: options.random } : {}) });
    let attempt = 0;
    while (!signal.aborted) {
      if ((await fileId(this.ourSocket)) !== this.servedId) return false;
      const kubeletBefore = await fileId(this.kubeletSocket);
      if (kubeletBefore === undefined) return false;
      attempt += 1;
      try {
        await this.registrar.register(
          this.kubeletSocket,
          kubeletBefore,
          {
            version: API_VERSION,
            endpoint: options.socketName,
            resource_name: options.resourceName,
            options: options.pluginOptions,
          },
          options.registerTimeoutMs,
        );
        // Identity taken after success: the kubelet.sock that accepted us is the one now there.
        this.registeredKubeletId = await fileId(this.kubeletSocket);
        this.registrationCount += 1;
        options.observer.registered(this.registrationCount);
        return true;
      } catch (err) {
        const delay = backoff.next();
        options.observer.registerFailed(err, delay, attempt);
        // Sleep out the backoff, but retry at once if kubelet.sock is replaced meanwhile.
        const until = options.clock.now() + delay;
        while (!signal.aborted) {
          const left = until - options.clock.now();
          if (left <= 0) break;
          await this.wakeup.wait(options.clock, left, signal);
          if ((await fileId(this.kubeletSocket)) !== kubeletBefore) break;
        }
      }
    }
    return false;
  }

  /** Why we must serve and register again, or undefined while all is well. */
  private async restartReason(): Promise<string | undefined> {
    if ((await fileId(this.ourSocket)) !== this.servedId) return `our socket ${this.ourSocket} was removed`;
    const kubelet = await fileId(this.kubeletSocket);
    if (kubelet === undefined) return `${this.kubeletSocket} is gone`;
    if (kubelet !== this.registeredKubeletId) return `${this.kubeletSocket} was recreated`;
    return undefined;
  }

  private async waitForRestart(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const reason = await this.restartReason();
      if (reason !== undefined) {
        this.options.observer.restarting(reason);
        return;
      }
      // The shared directory watch and its periodic tick wake us: no timer of our own.
      await this.wakeup.wait(this.options.clock, undefined, signal);
    }
  }

  private async teardown(options: { graceful?: boolean } = {}): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.generation += 1;
    // Closing the listener unlinks the socket path synchronously (libuv closes a bound pipe that
    // way), so a listener made after this line can never lose its socket to the old one.
    listener?.close();
    // On shutdown the streams have been sent their last (empty) list and ended: a graceful
    // close lets those bytes reach the kubelet before the connections go, for a moment.
    if (options.graceful && this.injector !== undefined && this.connections.size > 0) {
      await drained(this.injector, this.connections, GRACEFUL_SHUTDOWN_MS);
    }
    // Ending a connection cancels its calls, so each ListAndWatch handler runs its cleanup.
    const ended = this.connections.size > 0;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    // The cancelled calls' handlers run on a later turn: let them clean up before we say done.
    if (ended) await new Promise((resolve) => setImmediate(resolve));
    if (this.servedId !== undefined && (await fileId(this.ourSocket)) === this.servedId) {
      await unlink(this.ourSocket).catch(() => undefined);
    }
    this.servedId = undefined;
    this.registeredKubeletId = undefined;
    this.openStreams = 0;
  }
}

/** How long a stopping server waits for the kubelet to read its last words. */
const GRACEFUL_SHUTDOWN_MS = 500;

/**
 * Asks every connection to close once its calls are done (HTTP/2 GOAWAY), and waits until they
 * have, for at most timeoutMs: a kubelet that never closes its side must not hold up our exit.
 */
function drained(injector: grpc.ConnectionInjector, connections: ReadonlySet<net.Socket>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let open = connections.size;
    const timer = setTimeout(resolve, timeoutMs);
    for (const socket of connections) {
      socket.once('close', () => {
        open -= 1;
        if (open === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    injector.drain(timeoutMs);
  });
}

/**
 * Removes whatever socket is at our path (left by a crash); refuses to remove anything else.
 * Synchronous for the reason fileId is: after a kubelet restart every resource calls it at once.
 */
export function removeStaleSocket(file: string): void {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isSocket()) {
    throw new Error(`failed to serve: ${file} exists and is not a socket; remove it or choose another socketName`);
  }
  // Gone meanwhile is what we wanted; anything else is a reason not to serve.
  removeIfPresentSync(file);
}

export function describeRegisterError(err: unknown): string {
  return describeError(err).replace(/^\d+ [A-Z_]+: /, '');
}
