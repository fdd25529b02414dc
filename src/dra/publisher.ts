// Keeps this node's ResourceSlices true: publishes the pool, watches the node's own slices, and
// puts back what someone deleted (the kubelet wipes every slice of its node when it starts).
import { Backoff } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import { Wakeup } from '../common/dirwatch.js';
import { describeError, type Logger } from '../common/logger.js';
import type { DraDevice } from './devices.js';
import { NodeApiError, type ResourceApi } from './resource-api.js';
import { planSlices, poolSlices, type PoolIdentity, type Slice, type SliceWrite } from './slices.js';

export interface SlicePublisherOptions {
  api: ResourceApi;
  driver: string;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  /** How long one watch asks to stay open; the API server ends it then and it is resumed. */
  watchTimeoutSeconds?: number;
  /** Called with a short account after each change: "3 devices in 1 slice, generation 2". */
  onPublished?: (text: string) => void;
}

export interface PublisherStats {
  /** Creates, updates and deletes sent. */
  writes: number;
  lists: number;
  watches: number;
}

/**
 * One loop: list (field selector spec.nodeName + spec.driver, as node credentials must), make the
 * stored slices match, then watch from the list's version; every event updates the cache and
 * wakes the loop, which writes only when the cache differs from what should be published. A
 * watch that ends is resumed from the last version seen; 410 Expired or a failed write lists again.
 */
export class SlicePublisher {
  readonly stats: PublisherStats = { writes: 0, lists: 0, watches: 0 };
  private devices: DraDevice[] | undefined;
  private readonly cache = new Map<string, Slice>();
  private generation = 0;
  private nodeUid: string | undefined;
  private readonly wakeup = new Wakeup();
  private readonly selector: string;
  private lastSummary = '';
  /** The devices the slices last published in full, as text; undefined before the first. */
  private publishedKey: string | undefined;

  constructor(private readonly options: SlicePublisherOptions) {
    this.selector = `spec.nodeName=${options.nodeName},spec.driver=${options.driver}`;
  }

  /** The devices to publish from now on; the loop writes what differs. */
  setDevices(devices: DraDevice[]): void {
    this.devices = devices;
    this.wakeup.wake();
  }

  /** The slices as last seen in the API (the watch's view), for status and tests. */
  published(): Slice[] {
    return [...this.cache.values()];
  }

  async run(): Promise<void> {
    const { signal, clock, logger } = this.options;
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    while (!signal.aborted) {
      try {
        this.nodeUid ??= await this.waitForNode();
        if (this.nodeUid === undefined) return;
        const version = await this.list();
        await this.reconcile();
        backoff.reset();
        await this.watchLoop(version);
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoff.next();
        logger.warn(`failed to keep ResourceSlices of ${this.options.nodeName}: ${describeError(err)}${hint(err)}; retrying in ${Math.round(delay)} ms`);
        await clock.sleep(delay, signal);
      }
    }
  }

  private async waitForNode(): Promise<string | undefined> {
    const { api, signal, clock, logger, nodeName } = this.options;
    const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    while (!signal.aborted) {
      const uid = await api.nodeUid(nodeName, signal);
      if (uid !== undefined) return uid;
      const delay = backoff.next();
      logger.info(`Node ${nodeName} is not registered yet; looking again in ${Math.round(delay / 1000)} s`);
      await clock.sleep(delay, signal);
    }
    return undefined;
  }

  private async list(): Promise<string> {
    const list = await this.options.api.listSlices(this.selector, this.options.signal);
    this.stats.lists += 1;
    this.cache.clear();
    for (const s of list.items) if (s.metadata.name !== undefined) this.cache.set(s.metadata.name, s);
    return list.resourceVersion;
  }

  /** Watches until the signal aborts; resumes from the last version after a normal end. */
  private async watchLoop(fromVersion: string): Promise<void> {
    const { api, signal } = this.options;
    let version = fromVersion;
    while (!signal.aborted) {
      // A reconcile runs beside the watch, woken by its events and by new devices.
      const stopReconcile = new AbortController();
      const reconciling = this.reconcileOnWake(stopReconcile.signal);
      try {
        this.stats.watches += 1;
        await api.watchSlices(
          this.selector,
          version,
          this.options.watchTimeoutSeconds ?? 300,
          (type, slice) => {
            if (slice.metadata?.resourceVersion) version = slice.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            const name = slice.metadata?.name;
            if (name === undefined) return;
            if (type === 'DELETED') this.cache.delete(name);
            else this.cache.set(name, slice);
            this.wakeup.wake();
          },
          signal,
        );
      } finally {
        stopReconcile.abort();
        this.wakeup.wake();
        await reconciling;
      }
    }
  }

  private async reconcileOnWake(stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !this.options.signal.aborted) {
      const woken = await this.wakeup.wait(this.options.clock, undefined, stop);
      if (!woken || stop.aborted) return;
      try {
        await this.reconcile();
      } catch (err) {
        // The watch goes on; the next event or a re-list after the watch ends tries again.
        this.options.logger.warn(`failed to write ResourceSlices of ${this.options.nodeName}: ${describeError(err)}${hint(err)}`);
        await this.options.clock.sleep(500, stop);
        this.wakeup.wake();
      }
    }
  }

  private async reconcile(): Promise<void> {
    const devices = this.devices;
    if (devices === undefined || this.nodeUid === undefined) return;
    const id: PoolIdentity = { driver: this.options.driver, nodeName: this.options.nodeName, nodeUid: this.nodeUid };
    const key = JSON.stringify(devices);
    const changed = this.publishedKey !== undefined && this.publishedKey !== key;
    const plan = planSlices(id, [...this.cache.values()], devices, this.generation, changed);
    this.generation = plan.generation;
    for (const write of plan.writes) await this.apply(write);
    this.publishedKey = key;
    const count = poolSlices(id, [...this.cache.values()]).length;
    const summary = `${devices.length} device${devices.length === 1 ? '' : 's'} in ${count} slice${count === 1 ? '' : 's'}, generation ${plan.generation}`;
    if (plan.writes.length > 0) {
      this.options.logger.info(`ResourceSlices of ${this.options.nodeName}: ${plan.writes.map((w) => w.op).join(', ')}; ${summary}`);
    }
    if (summary !== this.lastSummary || plan.writes.length > 0) {
      this.lastSummary = summary;
      this.options.onPublished?.(summary);
    }
  }

  private async apply(write: SliceWrite): Promise<void> {
    const { api, signal } = this.options;
    this.stats.writes += 1;
    if (write.op === 'create') {
      const created = await api.createSlice(write.slice, signal);
      if (created.metadata.name !== undefined) this.cache.set(created.metadata.name, created);
    } else if (write.op === 'update') {
      const updated = await api.updateSlice(write.name, write.slice, signal);
      this.cache.set(write.name, updated);
    } else {
      await api.deleteSlice(write.name, signal);
      this.cache.delete(write.name);
    }
  }
}

function hint(err: unknown): string {
  if (!(err instanceof NodeApiError)) return '';
  if (err.status === 403) return ' (node credentials may write only slices whose spec.nodeName is their own Node; right after a create the API server may refuse for a moment)';
  if (err.status === 404 && /resourceslices/.test(err.message)) return ' (is resource.k8s.io/v1 served? It needs Kubernetes 1.34)';
  return '';
}
