// A clock that runs `scale` times faster than real time, so tests can live through hours of backoff and watches.
import type { Clock } from '../../src/common/clock.js';
import { systemClock } from '../../src/common/clock.js';

export function scaledClock(scale: number): Clock {
  const start = Date.now();
  return {
    now: () => start + (Date.now() - start) * scale,
    sleep: (ms, signal) => systemClock.sleep(ms / scale, signal),
  };
}
