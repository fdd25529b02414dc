// The plugin's calls out: Register with the kubelet, and a probe that our own socket answers.
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { RegisterRequest } from '../generated/v1beta1/RegisterRequest.js';
import { devicePluginApi } from './proto.js';

// Channels are not carried across a kubelet restart (see KubeletRegistrar): a reused grpc-js
// channel waits out its reconnect backoff (1 s at first), which would delay re-registering.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1000,
  // The real kubelet (≥ 1.26) and Node's HTTP/2 both use "localhost" on unix sockets.
  'grpc.default_authority': 'localhost',
  // channelz keeps a registry entry per channel; with a channel per kubelet start it only grows.
  'grpc.enable_channelz': 0,
};

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

type RegistrationClient = InstanceType<ReturnType<typeof devicePluginApi>['Registration']>;

/**
 * One Registration channel per kubelet.sock, shared by every resource. After a kubelet restart
 * fifty resources register at once, and a channel each cost more than the calls. A channel is
 * never carried over to a new kubelet.sock (identity given by the caller): a reused grpc-js
 * channel would wait out its reconnect backoff. A channel that failed to carry a call is dropped.
 */
export class KubeletRegistrar {
  private client: RegistrationClient | undefined;
  private key: string | undefined;
  private lastKubelet: string | undefined;

  /** kubeletStarted hears of each kubelet.sock identity once: the first, then every restart. */
  constructor(private readonly kubeletStarted?: (identity: string, first: boolean) => void) {}

  /**
   * Opens the channel to this kubelet.sock now, before any resource is ready to register: after
   * a kubelet restart the servers bind and probe for tens of milliseconds, and a channel that
   * connects meanwhile carries the first Register at once instead of connecting behind it.
   */
  connect(kubeletSocket: string, identity: string): void {
    // Every resource connects after each kubelet start; the identity tells one start from the next.
    if (identity !== this.lastKubelet) {
      const first = this.lastKubelet === undefined;
      this.lastKubelet = identity;
      this.kubeletStarted?.(identity, first);
    }
    this.clientFor(kubeletSocket, identity).getChannel().getConnectivityState(true);
  }

  register(kubeletSocket: string, identity: string, request: RegisterRequest, timeoutMs: number): Promise<void> {
    const client = this.clientFor(kubeletSocket, identity);
    return new Promise<void>((resolve, reject) => {
      client.Register(request, { deadline: deadline(timeoutMs) }, (err) => {
        if (!err) return resolve();
        // The kubelet refusing us (UNKNOWN, INVALID_ARGUMENT) leaves the channel sound; a channel
        // that could not deliver the call is not trusted again.
        if ((err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) && this.client === client) this.close();
        reject(err);
      });
    });
  }

  private clientFor(kubeletSocket: string, identity: string): RegistrationClient {
    const key = `${kubeletSocket}\0${identity}`;
    if (this.client === undefined || this.key !== key) {
      this.close();
      this.client = new (devicePluginApi().Registration)(`unix:${kubeletSocket}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.key = key;
    }
    return this.client;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
    this.key = undefined;
  }
}

/**
 * Proves our server answers on its socket, as the kubelet will dial it during Register: an
 * HTTP/2 server sends its SETTINGS frame as soon as a connection opens, before it has read a
 * byte, so the first bytes on a fresh connection being a SETTINGS frame is grpc-js's server
 * speaking on that path. No HTTP/2 session of our own is built to see it: after a kubelet
 * restart every resource probes at once, and with fifty resources the client half of fifty
 * sessions was a third of the time to register again (a full gRPC call cost five times more).
 */
export function probeDevicePlugin(socket: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const connection = net.connect(socket);
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no HTTP/2 answer on ${socket} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      connection.removeAllListeners();
      // A late error on a connection we are done with must not become an unhandled 'error'.
      connection.on('error', () => undefined);
      connection.destroy();
      if (err) reject(err);
      else resolve();
    };
    connection.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < FRAME_HEADER_BYTES) return;
      if (received[3] === SETTINGS_FRAME && received.readUInt32BE(5) === 0) finish();
      else finish(new Error(`${socket} answered, but not as an HTTP/2 server (first bytes ${received.subarray(0, FRAME_HEADER_BYTES).toString('hex')})`));
    });
    connection.once('error', (err) => finish(err));
    connection.once('close', () => finish(new Error(`${socket} closed the connection before answering`)));
  });
}

/** An HTTP/2 frame header: length (3 bytes), type, flags, stream identifier (4 bytes). */
const FRAME_HEADER_BYTES = 9;
const SETTINGS_FRAME = 0x4;

/** A gRPC status code as its name, for log lines ("UNAVAILABLE" reads better than 14). */
export function grpcCodeName(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && grpc.status[code] !== undefined) return grpc.status[code] as string;
  return 'ERROR';
}
