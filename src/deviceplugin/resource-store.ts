// One resource's current spec, shared by its handlers (read) and the manager (write), with change events.
import { sameDevices, type Device, type ResourceSpec } from './resource.js';

/**
 * Sends a device list on one ListAndWatch stream; resolves once it is written (or the stream is
 * gone). `last` ends the stream after the list, so the kubelet reads it before the end.
 */
export type DeviceSink = (devices: readonly Device[], last?: boolean) => Promise<void>;

export class ResourceStore {
  private spec: ResourceSpec;
  private readonly sinks = new Set<DeviceSink>();
  private withdrawn = false;

  constructor(initial: ResourceSpec) {
    this.spec = initial;
  }

  get(): ResourceSpec {
    return this.spec;
  }

  /** The devices streams should show: none once withdrawn for shutdown. */
  devices(): readonly Device[] {
    return this.withdrawn ? [] : this.spec.devices;
  }

  /**
   * Replaces the spec. Open streams hear of it only when the device list really changed; a new
   * grant (env, device nodes) takes effect at the next Allocate without a word to the kubelet.
   */
  set(spec: ResourceSpec): boolean {
    const changed = !sameDevices(this.spec.devices, spec.devices);
    this.spec = spec;
    if (changed && !this.withdrawn) for (const sink of [...this.sinks]) void sink(spec.devices);
    return changed;
  }

  /** Returns the unsubscribe function; every stream handler must call it when its stream ends. */
  subscribe(sink: DeviceSink): () => void {
    this.sinks.add(sink);
    return () => {
      this.sinks.delete(sink);
    };
  }

  /**
   * Sends an empty list on every open stream and ends it, so the kubelet stops counting the
   * devices at once instead of when the socket closes; resolves when each stream has ended or
   * after timeoutMs.
   */
  async withdraw(timeoutMs: number): Promise<void> {
    if (this.withdrawn) return;
    this.withdrawn = true;
    const writes = [...this.sinks].map((sink) => sink([], true));
    if (writes.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(writes),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Open ListAndWatch streams: a leak shows up here. */
  get listenerCount(): number {
    return this.sinks.size;
  }
}
