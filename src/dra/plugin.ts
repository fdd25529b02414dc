// Owns the DRA driver's two sockets: the DRA service under plugins/<driver>/, then the
// registration socket in plugins_registry that the kubelet's plugin watcher finds.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { removeStaleSocket } from '../deviceplugin/lifecycle.js';
import { MAX_SOCKET_PATH } from '../deviceplugin/sources/index.js';
import type { DRAPluginHandlers } from '../generated/dra-v1/k8s/io/kubelet/pkg/apis/dra/v1/DRAPlugin.js';
import type { RegistrationHandlers } from '../generated/pluginregistration/pluginregistration/Registration.js';
import { DRA_PLUGIN_TYPE, draV1Api, draV1beta1Api, registrationApi, SUPPORTED_VERSIONS } from './proto.js';

export const DEFAULT_REGISTRY_DIR = '/var/lib/kubelet/plugins_registry';
export const DEFAULT_PLUGINS_DIR = '/var/lib/kubelet/plugins';

export interface DraPluginOptions {
  driver: string;
  registryDir: string;
  pluginsDir: string;
  handlers: DRAPluginHandlers;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  /** What the kubelet said in NotifyRegistrationStatus. */
  onRegistration: (registered: boolean, error: string) => void;
  /** First wait before the registration socket is made again after a refusal. */
  reregisterBackoff?: { initialMs: number; maxMs: number };
}

export function draSocketPath(pluginsDir: string, driver: string): string {
  return path.join(pluginsDir, driver, 'dra.sock');
}

export function registrationSocketPath(registryDir: string, driver: string): string {
  return path.join(registryDir, `${driver}-reg.sock`);
}

function bind(server: grpc.Server, socket: string): Promise<void> {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    return Promise.reject(new Error(`failed to serve on ${socket}: the path is over the unix limit of ${MAX_SOCKET_PATH} bytes; use a shorter driver name or directory`));
  }
  return new Promise((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(new Error(`failed to serve on ${socket}: ${err.message}`)) : resolve())),
  );
}

/** Connects to the DRA socket as the kubelet will, so the registration never names a socket that does not answer. */
function probe(socket: string, timeoutMs: number): Promise<void> {
  const client = new (draV1Api().DRAPlugin)(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise<void>((resolve, reject) =>
    client.waitForReady(new Date(Date.now() + timeoutMs), (err) => {
      client.close();
      if (err) reject(new Error(`failed to reach our own DRA socket ${socket}: ${err.message}`));
      else resolve();
    }),
  );
}

export class DraPlugin {
  readonly endpoint: string;
  readonly registrationSocket: string;
  private draServer: grpc.Server | undefined;
  private regServer: grpc.Server | undefined;
  private readonly backoff: Backoff;
  private readonly stopRetry = new AbortController();
  private recreating = false;

  constructor(private readonly options: DraPluginOptions) {
    this.endpoint = draSocketPath(options.pluginsDir, options.driver);
    this.registrationSocket = registrationSocketPath(options.registryDir, options.driver);
    this.backoff = new Backoff(options.reregisterBackoff ?? { initialMs: 5000, maxMs: 300_000 });
  }

  /** Serves the DRA service, proves it answers, then offers the registration socket. */
  async start(): Promise<void> {
    // The kubelet does not create the driver's directory; it creates plugins_registry itself,
    // but a driver started first would otherwise fail.
    mkdirSync(path.dirname(this.endpoint), { recursive: true, mode: 0o750 });
    mkdirSync(this.options.registryDir, { recursive: true, mode: 0o755 });
    removeStaleSocket(this.endpoint);
    const dra = new grpc.Server();
    // One implementation under both names: the v1 and v1beta1 messages are the same on the wire.
    dra.addService(draV1Api().DRAPlugin.service, this.options.handlers);
    dra.addService(draV1beta1Api().DRAPlugin.service, this.options.handlers);
    this.draServer = dra;
    await bind(dra, this.endpoint);
    await probe(this.endpoint, 2000);
    await this.serveRegistration();
  }

  private async serveRegistration(): Promise<void> {
    const { driver, logger } = this.options;
    removeStaleSocket(this.registrationSocket);
    const handlers: RegistrationHandlers = {
      // Answered at once: the kubelet gives GetInfo one second.
      GetInfo: (_call, callback) => callback(null, { type: DRA_PLUGIN_TYPE, name: driver, endpoint: this.endpoint, supported_versions: [...SUPPORTED_VERSIONS] }),
      NotifyRegistrationStatus: (call, callback) => {
        callback(null, {});
        const { plugin_registered: registered, error } = call.request;
        this.options.onRegistration(registered, error);
        if (registered) {
          this.backoff.reset();
          return;
        }
        logger.error(`the kubelet refused DRA driver ${driver}: ${error}`);
        this.scheduleRecreate();
      },
    };
    const server = new grpc.Server();
    server.addService(registrationApi().Registration.service, handlers);
    this.regServer = server;
    await bind(server, this.registrationSocket);
  }

  /**
   * A refusal inside the kubelet's RegisterPlugin is never retried by the kubelet until the
   * socket is made again, so we make it again, with backoff.
   */
  private scheduleRecreate(): void {
    if (this.recreating) return;
    this.recreating = true;
    const delay = this.backoff.next();
    this.options.logger.info(`offering the registration socket again in ${Math.round(delay / 1000)} s`);
    void this.options.clock.sleep(delay, this.stopRetry.signal).then(async () => {
      this.recreating = false;
      if (this.stopRetry.signal.aborted || this.options.signal.aborted) return;
      this.regServer?.forceShutdown();
      try {
        await this.serveRegistration();
      } catch (err) {
        this.options.logger.error(`failed to offer the registration socket again: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  /** Stops both servers and removes both sockets: grpc-js leaves socket files behind. */
  stop(): void {
    this.stopRetry.abort();
    this.regServer?.forceShutdown();
    this.draServer?.forceShutdown();
    for (const socket of [this.registrationSocket, this.endpoint]) {
      try {
        removeStaleSocket(socket);
      } catch {
        // Not a socket: not ours to remove.
      }
    }
  }
}
