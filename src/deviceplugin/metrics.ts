// What the device plugin reports to its metrics: a recorder interface, and the no-op used when metrics are off.
import type { Device } from './resource.js';

/** How a Register call ended: accepted, refused by a kubelet that answered, or not delivered. */
export type RegistrationResult = 'ok' | 'refused' | 'error';

/**
 * Events the manager, the handlers and the daemon report. Implementations only count: they do
 * no I/O on the caller's turn and never throw, so serving devices never waits on metrics.
 */
export interface DevicePluginMetrics {
  /** A Register call ended; latencySeconds (with 'ok') runs from server start or kubelet restart seen. */
  registration(resource: string, result: RegistrationResult, latencySeconds?: number): void;
  /** Whether the resource is registered with the kubelet now. */
  registered(resource: string, registered: boolean): void;
  /** A kubelet start after the first one this process saw (kubelet.sock recreated). */
  kubeletRestart(): void;
  /** The resource's current device list. */
  devices(resource: string, devices: readonly Device[]): void;
  /** An Allocate call answered (refused: false) or refused. */
  allocation(resource: string, refused: boolean): void;
  /** A config reload (SIGHUP or file change) applied or refused. */
  configReload(ok: boolean): void;
  /** Whether the maintenance flag is present. */
  maintenance(present: boolean): void;
  /** The resource stopped (a reload removed it): its series go. */
  resourceGone(resource: string): void;
}

export const noDevicePluginMetrics: DevicePluginMetrics = {
  registration: () => undefined,
  registered: () => undefined,
  kubeletRestart: () => undefined,
  devices: () => undefined,
  allocation: () => undefined,
  configReload: () => undefined,
  maintenance: () => undefined,
  resourceGone: () => undefined,
};
