// Loads the Device Plugin API v1beta1 from proto/ once, typed by the generated definitions.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../generated/api.js';

export const API_VERSION = 'v1beta1';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

const PROTO = 'proto/deviceplugin/v1beta1/api.proto';

/**
 * Where the .proto lives: beside the bundle when packaged (/usr/lib/riscv-runner-node/proto/…),
 * at the checkout's top when run from dist/src/deviceplugin/.
 */
export function protoCandidates(moduleUrl: string): string[] {
  return ['./', '../', '../../', '../../../'].map((up) => fileURLToPath(new URL(up + PROTO, moduleUrl)));
}

let loaded: ProtoGrpcType['v1beta1'] | undefined;

export function devicePluginApi(): ProtoGrpcType['v1beta1'] {
  if (loaded) return loaded;
  const file = protoCandidates(import.meta.url).find((f) => existsSync(f));
  if (!file) throw new Error(`failed to find ${PROTO} beside ${fileURLToPath(import.meta.url)}`);
  // The same options as the generated types (package script gen:proto), so the types are true.
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  loaded = (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).v1beta1;
  return loaded;
}
