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
 * Where a .proto lives: beside the bundle when packaged (/usr/lib/riscv-runner-node/proto/…),
 * at the checkout's top when run from dist/src/<dir>/.
 */
export function protoCandidates(moduleUrl: string, proto = PROTO): string[] {
  return ['./', '../', '../../', '../../../'].map((up) => fileURLToPath(new URL(up + proto, moduleUrl)));
}

/** Loads one file of proto/ as a gRPC package, with the options the generated types were made with. */
export function loadProto(proto: string, moduleUrl: string): grpc.GrpcObject {
  const file = protoCandidates(moduleUrl, proto).find((f) => existsSync(f));
  if (!file) throw new Error(`failed to find ${proto} beside ${fileURLToPath(moduleUrl)}`);
  // The same options as the generated types (package script gen:proto), so the types are true.
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

let loaded: ProtoGrpcType['v1beta1'] | undefined;

export function devicePluginApi(): ProtoGrpcType['v1beta1'] {
  loaded ??= (loadProto(PROTO, import.meta.url) as unknown as ProtoGrpcType).v1beta1;
  return loaded;
}
