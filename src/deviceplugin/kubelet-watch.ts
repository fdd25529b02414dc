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
  private readonly listeners = new Set<(filename: string | undefined) => void>();
  private readonly watch: DirectoryWatch;

  constructor(
    readonly dir: string,
    /** intervalMs 0: the owner calls tick() from its shared timer. */
    options: { intervalMs: number; onError?: (err: Error) => void },
  ) {
    this.watch = new DirectoryWatch(dir, {
      intervalMs: options.intervalMs,
      onChange: (filename) => this.wakeAll(filename),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /**
   * Returns the unsubscribe function. The listener hears the name of the file an event was about,
   * or undefined for a tick: a kubelet restart removes and creates one socket per resource, and
   * a server that woke for every one of them would check its own socket N² times per restart.
   */
  subscribe(listener: (filename: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  tick(): void {
    this.watch.tick();
  }

  /** An event about one file, or (undefined) a reason for everyone to look now. */
  wakeAll(filename?: string): void {
    for (const listener of [...this.listeners]) listener(filename);
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
