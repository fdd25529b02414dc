// The current device list, shared by the handlers (read) and discovery (write), with change events.
import { sameDevices, type RunnerDevice } from './devices.js';

export type DeviceListener = (devices: readonly RunnerDevice[]) => void;

export class DeviceStore {
  private devices: readonly RunnerDevice[];
  private readonly listeners = new Set<DeviceListener>();

  constructor(initial: readonly RunnerDevice[]) {
    this.devices = initial;
  }

  get(): readonly RunnerDevice[] {
    return this.devices;
  }

  /** Replaces the list; listeners hear of it only when it really changed. */
  set(devices: readonly RunnerDevice[]): boolean {
    if (sameDevices(this.devices, devices)) return false;
    this.devices = devices;
    for (const listener of [...this.listeners]) listener(devices);
    return true;
  }

  /** Returns the unsubscribe function; callers must call it when their stream ends. */
  subscribe(listener: DeviceListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Open ListAndWatch streams and other listeners: a leak shows up here. */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
