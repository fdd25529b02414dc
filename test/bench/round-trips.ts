// The timing loop of the bench clients (allocate-client.ts, scrape-client.ts): untimed warm-up
// calls, then one call at a time, each round trip timed.

/** The round-trip times of `calls` calls in ms, after `warmup` untimed ones. */
export async function roundTrips(call: () => Promise<void>, calls: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  return times;
}
