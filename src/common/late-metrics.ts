// Metrics that come up after the daemon is ready: a recorder that queues events until prom-client is loaded.
import { describeError, type Logger } from './logger.js';
import type { Notifier } from './notifier.js';

/** What a daemon's metrics module hands back once loaded. */
export interface LoadedMetrics<R> {
  /** The real recorder; the queued events are replayed into it first. */
  recorder: R;
  /** Starts the endpoint and the textfile, with every queued event already counted. */
  begin(): Promise<{ note: StatusNoteSource; close(): Promise<void> }>;
}

export interface StatusNoteSource {
  text(): string | undefined;
  onChange(listener: () => void): () => void;
}

/** Events kept while prom-client loads; a daemon makes a handful in its first second. */
const MAX_QUEUED = 10_000;

/**
 * Loading prom-client costs longer than the plugin takes to register after a start, and the
 * board must take runners first. So the daemon gets this recorder at once, its events wait in
 * a queue, and start() (after READY, or after fallbackMs when READY is slow to come) loads the
 * real one and replays them: no event is lost, and nothing is counted twice.
 */
export class LateMetrics<R extends object> {
  readonly recorder: R;
  private real: R | undefined;
  private queue: Array<[keyof R, unknown[]]> = [];
  private started: Promise<void> | undefined;
  private closeOutputs: (() => Promise<void>) | undefined;
  private noteSource: StatusNoteSource | undefined;
  private readonly noteListeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly shape: R,
    private readonly load: () => Promise<LoadedMetrics<R>>,
    private readonly logger: Logger,
  ) {
    const recorder: Record<string, (...args: unknown[]) => void> = {};
    for (const key of Object.keys(shape)) {
      recorder[key] = (...args: unknown[]) => {
        const real = this.real as Record<string, (...a: unknown[]) => void> | undefined;
        if (real) real[key]?.(...args);
        else if (this.queue.length < MAX_QUEUED) this.queue.push([key as keyof R, args]);
      };
    }
    this.recorder = recorder as R;
  }

  /** The outputs' trouble, once they run, for STATUS. */
  readonly note: StatusNoteSource = {
    text: () => this.noteSource?.text(),
    onChange: (listener) => {
      this.noteListeners.add(listener);
      return () => this.noteListeners.delete(listener);
    },
  };

  /** Starts after fallbackMs unless start() came first; the timer is unref'd and fires once. */
  startAfter(fallbackMs: number): void {
    this.timer ??= setTimeout(() => void this.start(), fallbackMs);
    this.timer.unref();
  }

  /** The notifier the daemon should use: its first READY=1 starts the metrics. */
  startingOnReady(notifier: Notifier): Notifier {
    return {
      ready: () => {
        notifier.ready();
        void this.start();
      },
      status: (text) => notifier.status(text),
      watchdog: () => notifier.watchdog(),
      stopping: () => notifier.stopping(),
      reloading: (usec) => notifier.reloading(usec),
      flush: () => notifier.flush(),
      backend: notifier.backend,
    };
  }

  start(): Promise<void> {
    clearTimeout(this.timer);
    this.started ??= (async () => {
      try {
        const loaded = await this.load();
        this.real = loaded.recorder;
        const queued = this.queue;
        this.queue = [];
        const real = loaded.recorder as Record<keyof R, (...a: unknown[]) => void>;
        for (const [key, args] of queued) real[key](...args);
        const outputs = await loaded.begin();
        this.closeOutputs = outputs.close;
        this.noteSource = outputs.note;
        outputs.note.onChange(() => this.tell());
        if (outputs.note.text() !== undefined) this.tell();
      } catch (err) {
        // A broken install of prom-client must not take the daemon down with it.
        this.real = this.shape;
        this.queue = [];
        this.logger.error(`metrics: failed to start: ${describeError(err)}; devices and labels are served as before, without metrics`);
      }
    })();
    return this.started;
  }

  /** Writes the last values and stops listening; waits for a start in progress. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.started;
    await this.closeOutputs?.();
  }

  private tell(): void {
    for (const listener of [...this.noteListeners]) listener();
  }
}
