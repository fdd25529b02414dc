// Watching a directory for changes: inotify through fs.watch, backed by a slow periodic check.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Clock } from './clock.js';

/**
 * Something that can be woken early: a waiter sleeps until wake() or its timeout, whichever
 * comes first. Wakes that arrive while nobody waits are remembered, so none is lost.
 */
export class Wakeup {
  private pending = false;
  private waiters: Array<() => void> = [];

  wake(): void {
    if (this.waiters.length === 0) {
      this.pending = true;
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves true when woken, false on timeout or abort. Leaves no timer or listener behind.
   * Without a timeout no timer is set at all: whoever wakes us (a shared watch) owns the clock,
   * so many sleepers cost no more wake-ups than one.
   */
  async wait(clock: Clock, timeoutMs: number | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return true;
    }
    if (signal.aborted) return false;
    if (timeoutMs === undefined) return this.waitUntimed(signal);
    const stopSleep = new AbortController();
    let woken = false;
    const onWake = (): void => {
      woken = true;
      stopSleep.abort();
    };
    const onAbort = (): void => stopSleep.abort();
    this.waiters.push(onWake);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await clock.sleep(timeoutMs, stopSleep.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.waiters = this.waiters.filter((w) => w !== onWake);
    }
    return woken;
  }

  private waitUntimed(signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const finish = (woken: boolean): void => {
        signal.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== onWake);
        resolve(woken);
      };
      const onWake = (): void => finish(true);
      const onAbort = (): void => finish(false);
      this.waiters.push(onWake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sleepers right now: a leak shows up here. */
  get waiting(): number {
    return this.waiters.length;
  }
}

export interface DirectoryWatchOptions {
  /**
   * How often to look even without an event: inotify events can be missed or the dir replaced.
   * 0: no timer of its own; the owner calls tick() from a timer it shares among many watches.
   */
  intervalMs: number;
  /** Called for every event and every tick; cheap state checks belong there. */
  onChange: (filename: string | undefined) => void;
  onError?: (err: Error) => void;
}

/**
 * Watches one directory. While it does not exist yet (kubelet not installed, /etc dir missing)
 * the nearest existing ancestor is watched instead, so its creation is noticed at once too;
 * the periodic tick is the backstop for both.
 */
export class DirectoryWatch {
  private watcher: FSWatcher | undefined;
  /** True while the watcher is on an ancestor standing in for the missing directory. */
  private onAncestor = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly options: DirectoryWatchOptions,
  ) {
    this.attach();
    this.timer = options.intervalMs > 0 ? setInterval(() => this.tick(), options.intervalMs) : undefined;
  }

  /** The periodic look: re-attach if the directory came or went, then report a change-or-not. */
  tick(): void {
    if (this.closed) return;
    if (!this.watcher || this.onAncestor) this.attach();
    this.options.onChange(undefined);
  }

  /** True when inotify is on the directory itself. */
  get watching(): boolean {
    return this.watcher !== undefined && !this.onAncestor;
  }

  private attach(): void {
    if (this.closed) return;
    this.watcher?.close();
    this.watcher = undefined;
    for (let dir = this.dir; ; dir = path.dirname(dir)) {
      const self = dir === this.dir;
      try {
        const w = watch(dir, { persistent: false }, (_event, filename) => {
          if (self) {
            this.options.onChange(filename === null ? undefined : String(filename));
          } else {
            // Something changed on the way to our directory: it may exist now.
            this.attach();
            if (!this.onAncestor) this.options.onChange(undefined);
          }
        });
        w.on('error', (err) => {
          // The directory went away (or inotify failed): drop the watcher; the tick re-attaches.
          this.options.onError?.(err);
          w.close();
          if (this.watcher === w) this.watcher = undefined;
          this.options.onChange(undefined);
        });
        this.watcher = w;
        this.onAncestor = !self;
        return;
      } catch {
        if (dir === path.dirname(dir)) return;
      }
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
