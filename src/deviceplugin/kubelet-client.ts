// The plugin's calls out: Register with the kubelet, and a probe that our own socket answers.
import * as grpc from '@grpc/grpc-js';
import type { DevicePluginOptions } from '../generated/v1beta1/DevicePluginOptions.js';
import type { RegisterRequest } from '../generated/v1beta1/RegisterRequest.js';
import { devicePluginApi } from './proto.js';

// Each call gets a fresh channel that is closed afterwards: a reused grpc-js channel waits out
// its reconnect backoff (1 s at first) after the kubelet restarts, which delays re-registering.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1000,
  // The real kubelet (≥ 1.26) and Node's HTTP/2 both use "localhost" on unix sockets.
  'grpc.default_authority': 'localhost',
  // channelz keeps a registry entry per channel; with a channel per call it only grows.
  'grpc.enable_channelz': 0,
};

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

/** Calls Registration/Register on kubelet.sock; resolves when the kubelet accepted us. */
export function registerWithKubelet(kubeletSocket: string, request: RegisterRequest, timeoutMs: number): Promise<void> {
  const api = devicePluginApi();
  const client = new api.Registration(`unix:${kubeletSocket}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise<void>((resolve, reject) => {
    client.Register(request, { deadline: deadline(timeoutMs) }, (err) => {
      client.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Proves our server answers on its socket, as the kubelet will dial it during Register. */
export function probeDevicePlugin(socket: string, timeoutMs: number): Promise<DevicePluginOptions> {
  const api = devicePluginApi();
  const client = new api.DevicePlugin(`unix:${socket}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise<DevicePluginOptions>((resolve, reject) => {
    client.GetDevicePluginOptions({}, { deadline: deadline(timeoutMs) }, (err, options) => {
      client.close();
      if (err) reject(err);
      else resolve(options ?? {});
    });
  });
}

/** A gRPC status code as its name, for log lines ("UNAVAILABLE" reads better than 14). */
export function grpcCodeName(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && grpc.status[code] !== undefined) return grpc.status[code] as string;
  return 'ERROR';
}
