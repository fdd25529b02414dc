// Types for the prom-client files src/common/prom-client.ts imports one by one; the package's
// own types describe only its index, whose classes these files export.
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export = Registry;
}
declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export = Counter;
}
declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export = Gauge;
}
declare module 'prom-client/lib/histogram.js' {
  import { Histogram } from 'prom-client';
  export = Histogram;
}
declare module 'prom-client/lib/metrics/*.js' {
  import type { DefaultMetricsCollectorConfiguration, PrometheusContentType, Registry } from 'prom-client';
  /** Adds one of the default metrics (a group of series) to the registry. */
  const collector: (registry: Registry, config: DefaultMetricsCollectorConfiguration<PrometheusContentType>) => void;
  export = collector;
}
