// Preloaded (--import) into a benchmarked daemon started with --expose-gc: on SIGUSR2 it runs
// full GCs and writes process.memoryUsage() and VmRSS to $RRN_MEMORY_PROBE. Comparing memory only
// after a full GC at both points is what tells retained memory from garbage not yet collected.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const out = process.env['RRN_MEMORY_PROBE'];
const gc = (globalThis as { gc?: () => void }).gc;
if (out !== undefined && gc !== undefined) {
  process.on('SIGUSR2', () => {
    // Twice: what the first one's finalizers release is only collected by the next.
    gc();
    gc();
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
    const tmp = `${out}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...process.memoryUsage(), rssKiB }));
    // The bench polls for the file; a rename means it never reads half of it.
    renameSync(tmp, out);
  });
}
