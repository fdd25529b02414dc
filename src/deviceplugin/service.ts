// The DevicePlugin gRPC handlers: answers from a snapshot of the device store, no timers, no files.
import * as grpc from '@grpc/grpc-js';
import type { DevicePluginHandlers } from '../generated/v1beta1/DevicePlugin.js';
import type { DevicePluginOptions } from '../generated/v1beta1/DevicePluginOptions.js';
import type { ContainerAllocateResponse } from '../generated/v1beta1/ContainerAllocateResponse.js';
import type { ContainerPreferredAllocationResponse } from '../generated/v1beta1/ContainerPreferredAllocationResponse.js';
import type { Logger } from '../common/logger.js';
import type { DeviceStore } from './device-store.js';
import type { RunnerDevice } from './devices.js';
import { devicePluginApi } from './proto.js';

export interface DevicePluginServiceOptions {
  resourceName: string;
  store: DeviceStore;
  /** Environment given to every container allocated a runner device. */
  allocateEnv: Readonly<Record<string, string>>;
  logger: Logger;
  /** Called when a ListAndWatch stream ends from the kubelet's side: a hint that it may have restarted. */
  onStreamEnded?: () => void;
}

/** What we tell the kubelet in Register and GetDevicePluginOptions. */
export const PLUGIN_OPTIONS: Required<DevicePluginOptions> = {
  // Nothing to prepare on the host before a runner container starts.
  pre_start_required: false,
  // With identical devices any choice is as good as another; the kubelet's own pick is fine.
  get_preferred_allocation_available: false,
};

export function createDevicePluginHandlers(options: DevicePluginServiceOptions): DevicePluginHandlers {
  const { store, logger } = options;
  const toWire = (devices: readonly RunnerDevice[]) => ({ devices: devices.map((d) => ({ ID: d.ID, health: d.health })) });

  return {
    GetDevicePluginOptions(_call, callback) {
      callback(null, PLUGIN_OPTIONS);
    },

    ListAndWatch(call) {
      let last: readonly RunnerDevice[] | undefined;
      const send = (devices: readonly RunnerDevice[]): void => {
        // The store only fires on change, but a stream must also never repeat its own last list.
        if (last === devices) return;
        last = devices;
        call.write(toWire(devices));
      };
      send(store.get());
      const unsubscribe = store.subscribe(send);
      let ended = false;
      const cleanup = (reason: string): void => {
        if (ended) return;
        ended = true;
        unsubscribe();
        logger.debug(`ListAndWatch stream ended (${reason})`);
        if (reason === 'cancelled') options.onStreamEnded?.();
      };
      call.on('cancelled', () => cleanup('cancelled'));
      call.on('error', () => cleanup('error'));
      call.on('close', () => cleanup('close'));
      call.on('finish', () => cleanup('finish'));
    },

    GetPreferredAllocation(call, callback) {
      const container_responses: ContainerPreferredAllocationResponse[] = call.request.container_requests.map((req) => {
        const chosen = [...req.must_include_deviceIDs];
        for (const id of req.available_deviceIDs) {
          if (chosen.length >= req.allocation_size) break;
          if (!chosen.includes(id)) chosen.push(id);
        }
        return { deviceIDs: chosen };
      });
      callback(null, { container_responses });
    },

    Allocate(call, callback) {
      const known = new Set(store.get().map((d) => d.ID));
      const container_responses: ContainerAllocateResponse[] = [];
      for (const req of call.request.container_requests) {
        const unknown = req.devices_ids.filter((id) => !known.has(id));
        if (unknown.length > 0) {
          const message = `unknown device ${unknown.map((id) => `'${id}'`).join(', ')} for ${options.resourceName} (this node has ${[...known].join(', ') || 'none'})`;
          logger.warn(`failed to allocate: ${message}`);
          callback({ code: grpc.status.INVALID_ARGUMENT, details: message }, null);
          return;
        }
        container_responses.push({ envs: { ...options.allocateEnv } });
      }
      callback(null, { container_responses });
    },

    PreStartContainer(_call, callback) {
      callback(null, {});
    },
  };
}

/** Adds the handlers to a server the lifecycle owns (services do not own servers). */
export function addDevicePluginService(server: grpc.Server, handlers: DevicePluginHandlers): void {
  server.addService(devicePluginApi().DevicePlugin.service, handlers);
}
