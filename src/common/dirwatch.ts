// Watching a directory for changes: inotify through fs.watch, backed by a slow periodic check.
import { watch, type FSWatcher } from 'node:fs';
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

  /** Resolves true when woken, false on timeout or abort. Leaves no timer or listener behind. */
  async wait(clock: Clock, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return true;
    }
    if (signal.aborted) return false;
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
}

export interface DirectoryWatchOptions {
  /** How often to look even without an event: inotify events can be missed or the dir replaced. */
  intervalMs: number;
  /** Called for every event and every tick; cheap state checks belong there. */
  onChange: (filename: string | undefined) => void;
  onError?: (err: Error) => void;
}

/**
 * Watches one directory. If it does not exist yet (kubelet not installed, /etc dir missing),
 * the periodic tick keeps trying to attach the watcher, and reports every tick meanwhile.
 */
export class DirectoryWatch {
  private watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly options: DirectoryWatchOptions,
  ) {
    this.attach();
    this.timer = setInterval(() => {
      if (!this.watcher) this.attach();
      this.options.onChange(undefined);
    }, options.intervalMs);
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  private attach(): void {
    if (this.closed) return;
    try {
      const w = watch(this.dir, { persistent: false }, (_event, filename) => {
        this.options.onChange(filename === null ? undefined : String(filename));
      });
      w.on('error', (err) => {
        // The directory went away (or inotify failed): drop the watcher; the tick re-attaches it.
        this.options.onError?.(err);
        w.close();
        if (this.watcher === w) this.watcher = undefined;
        this.options.onChange(undefined);
      });
      this.watcher = w;
    } catch {
      this.watcher = undefined;
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
