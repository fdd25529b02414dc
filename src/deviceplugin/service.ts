// The DevicePlugin gRPC handlers of one resource: answers from its store's snapshot, no timers, no files.
import * as grpc from '@grpc/grpc-js';
import type { DevicePluginHandlers } from '../generated/v1beta1/DevicePlugin.js';
import type { DevicePluginOptions } from '../generated/v1beta1/DevicePluginOptions.js';
import type { ContainerAllocateResponse } from '../generated/v1beta1/ContainerAllocateResponse.js';
import type { ContainerPreferredAllocationResponse } from '../generated/v1beta1/ContainerPreferredAllocationResponse.js';
import type { ListAndWatchResponse } from '../generated/v1beta1/ListAndWatchResponse.js';
import type { Logger } from '../common/logger.js';
import { containerAllocation, preferredAllocation } from './allocation.js';
import type { DevicePluginMetrics } from './metrics.js';
import type { Device, ResourceKind } from './resource.js';
import type { ResourceStore } from './resource-store.js';
import { devicePluginApi } from './proto.js';

/** What the handlers report about the kubelet's streams, for the lifecycle and STATUS. */
export interface StreamObserver {
  /**
   * A ListAndWatch stream opened: the kubelet is connected. The function it returns is called if
   * that stream ends from the kubelet's side (it may have stopped or restarted); each stream has
   * its own, so a stream that outlives a restart of our serving is told from the current ones.
   */
  opened(): () => void;
}

export interface DevicePluginServiceOptions {
  store: ResourceStore;
  logger: Logger;
  streams?: StreamObserver;
  metrics?: Pick<DevicePluginMetrics, 'allocation'>;
}

/** What we tell the kubelet in Register and GetDevicePluginOptions. */
export const PLUGIN_OPTIONS: Required<DevicePluginOptions> = {
  // Nothing to prepare on the host before a container starts.
  pre_start_required: false,
  // Runner slots, shares of a /dev entry and spookd's instances are interchangeable enough
  // that the kubelet's own pick is fine.
  get_preferred_allocation_available: false,
};

/** The options of one resource: PCI functions sit on NUMA nodes, so their pools pick the devices. */
export function pluginOptionsFor(kind: ResourceKind): Required<DevicePluginOptions> {
  return kind === 'pci' ? { ...PLUGIN_OPTIONS, get_preferred_allocation_available: true } : PLUGIN_OPTIONS;
}

function toWire(devices: readonly Device[]): ListAndWatchResponse {
  return {
    devices: devices.map((d) =>
      d.numaNodes === undefined
        ? { ID: d.ID, health: d.health }
        : { ID: d.ID, health: d.health, topology: { nodes: d.numaNodes.map((n) => ({ ID: n })) } },
    ),
  };
}

export function createDevicePluginHandlers(options: DevicePluginServiceOptions): DevicePluginHandlers {
  const { store, logger } = options;

  return {
    GetDevicePluginOptions(_call, callback) {
      callback(null, pluginOptionsFor(store.get().kind));
    },

    ListAndWatch(call) {
      let ended = false;
      let last: readonly Device[] | undefined;
      const send = (devices: readonly Device[], final = false): Promise<void> => {
        if (ended) return Promise.resolve();
        if (final) {
          // Shutdown: the empty list, then the end of the stream, in that order on the wire.
          return new Promise<void>((resolve) => {
            call.once('finish', () => resolve());
            call.write(toWire(devices));
            call.end();
          });
        }
        // The store only fires on change, but a stream must also never repeat its own last list.
        if (last === devices) return Promise.resolve();
        last = devices;
        return new Promise<void>((resolve) => {
          call.write(toWire(devices), () => resolve());
        });
      };
      void send(store.devices());
      const unsubscribe = store.subscribe(send);
      const lost = options.streams?.opened();
      const cleanup = (reason: string): void => {
        if (ended) return;
        ended = true;
        unsubscribe();
        logger.debug(`ListAndWatch stream of ${store.get().name} ended (${reason})`);
        if (reason === 'cancelled') lost?.();
      };
      call.on('cancelled', () => cleanup('cancelled'));
      call.on('error', () => cleanup('error'));
      call.on('close', () => cleanup('close'));
      call.on('finish', () => cleanup('finish'));
    },

    GetPreferredAllocation(call, callback) {
      const spec = store.get();
      const container_responses: ContainerPreferredAllocationResponse[] = [];
      for (const req of call.request.container_requests) {
        const result = preferredAllocation(spec, req.available_deviceIDs, req.must_include_deviceIDs, req.allocation_size);
        if (!result.ok) {
          logger.warn(`failed to prefer an allocation: ${result.message}`);
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: result.message }, null);
          return;
        }
        container_responses.push({ deviceIDs: result.deviceIDs });
      }
      callback(null, { container_responses });
    },

    Allocate(call, callback) {
      const spec = store.get();
      const container_responses: ContainerAllocateResponse[] = [];
      for (const req of call.request.container_requests) {
        const result = containerAllocation(spec, req.devices_ids);
        if (!result.ok) {
          logger.warn(`failed to allocate: ${result.message}`);
          options.metrics?.allocation(spec.name, true);
          callback({ code: grpc.status.INVALID_ARGUMENT, details: result.message }, null);
          return;
        }
        container_responses.push(result.response);
      }
      options.metrics?.allocation(spec.name, false);
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
