// The parts of prom-client the daemons use, each loaded from its own file.
//
// prom-client's index loads everything it has: the Pushgateway client (http, https, zlib), the
// cluster aggregator (node:cluster), summaries (tdigest) and the event-loop-lag monitor, a libuv
// timer that fires every few milliseconds. None of those is used here, and in a daemon that must
// stay small they cost memory that enabling metrics is not allowed to (docs/metrics.md).
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';
import Registry from 'prom-client/lib/registry.js';

export { Counter, Gauge, Histogram, Registry };

/**
 * prom-client's default metrics (what collectDefaultMetrics adds) less the event-loop lag, in
 * its order: the process's CPU, memory, descriptors and start time, and Node's heap, handles,
 * requests, resources, version and GC durations.
 */
export const DEFAULT_METRICS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  // Needs process.getActiveResourcesInfo, which every Node the package supports (18.19 on) has.
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
  gc,
];
