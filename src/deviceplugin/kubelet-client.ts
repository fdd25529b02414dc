// The plugin's calls out: Register with the kubelet, and a probe that our own socket answers.
import http2 from 'node:http2';
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

/**
 * One Registration channel per kubelet.sock, shared by every resource. After a kubelet restart
 * fifty resources register at once, and a channel each cost more than the calls. A channel is
 * never carried over to a new kubelet.sock (identity given by the caller): a reused grpc-js
 * channel would wait out its reconnect backoff. A channel that failed to carry a call is dropped.
 */
export class KubeletRegistrar {
  private client: InstanceType<ReturnType<typeof devicePluginApi>['Registration']> | undefined;
  private key: string | undefined;

  register(kubeletSocket: string, identity: string, request: RegisterRequest, timeoutMs: number): Promise<void> {
    const key = `${kubeletSocket}\0${identity}`;
    if (this.client === undefined || this.key !== key) {
      this.close();
      this.client = new (devicePluginApi().Registration)(`unix:${kubeletSocket}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.key = key;
    }
    const client = this.client;
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

  close(): void {
    this.client?.close();
    this.client = undefined;
    this.key = undefined;
  }
}

/**
 * Proves our server answers on its socket, as the kubelet will dial it during Register: an
 * HTTP/2 session whose server SETTINGS arrive is grpc-js's server speaking on that path. A full
 * gRPC call did the same at five times the cost, and after a kubelet restart every resource
 * probes at once: with fifty resources that alone held the re-registrations back by ~100 ms.
 */
export function probeDevicePlugin(socket: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    const timer = setTimeout(() => finish(new Error(`no HTTP/2 answer on ${socket} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      session.removeAllListeners();
      // A late error on a session we are done with must not become an unhandled 'error'.
      session.on('error', () => undefined);
      session.destroy();
      if (err) reject(err);
      else resolve();
    };
    session.once('remoteSettings', () => finish());
    session.once('error', (err) => finish(err));
    session.once('close', () => finish(new Error(`${socket} closed the connection before answering`)));
  });
}

/** A gRPC status code as its name, for log lines ("UNAVAILABLE" reads better than 14). */
export function grpcCodeName(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && grpc.status[code] !== undefined) return grpc.status[code] as string;
  return 'ERROR';
}
