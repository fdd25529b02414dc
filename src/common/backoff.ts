// Exponential backoff with full jitter, so a fleet that lost its API server does not return in step.
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Returns a number in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(`invalid backoff: initialMs ${options.initialMs}, maxMs ${options.maxMs}`);
    }
    this.factor = options.factor ?? 2;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt: half fixed, half random, capped at maxMs. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * this.factor ** this.attempt);
    if (ceiling < this.options.maxMs) this.attempt += 1;
    // "Equal jitter": never less than half the ceiling, so retries never become a tight loop.
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
