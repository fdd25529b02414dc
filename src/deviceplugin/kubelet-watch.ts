// One watch of the device-plugins directory for every resource server: inotify plus one periodic tick.
import type { Clock } from '../common/clock.js';
import { DirectoryWatch } from '../common/dirwatch.js';

/**
 * The kubelet announces a restart only through this directory (every socket removed, kubelet.sock
 * recreated). Each server used to watch it itself; with fifty resources that is fifty inotify
 * watches and fifty timers. Here one watch and one timer wake every subscribed server, which
 * then checks its own socket: idle cost does not grow with the resource count.
 */
export class KubeletWatch {
  private readonly listeners = new Set<() => void>();
  private readonly watch: DirectoryWatch;

  constructor(
    readonly dir: string,
    /** intervalMs 0: the owner calls tick() from its shared timer. */
    options: { intervalMs: number; onError?: (err: Error) => void },
  ) {
    this.watch = new DirectoryWatch(dir, {
      intervalMs: options.intervalMs,
      onChange: () => this.wakeAll(),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  tick(): void {
    this.watch.tick();
  }

  /** Something else (a stream that ended) suggests the kubelet changed: everyone looks now. */
  wakeAll(): void {
    for (const listener of [...this.listeners]) listener();
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  close(): void {
    this.watch.close();
    this.listeners.clear();
  }
}

export type { Clock };
