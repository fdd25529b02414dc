// A kube-state-metrics stand-in: the two Node metrics the alert rules and the dashboard read,
// served over HTTP in the Prometheus text format, as kube-state-metrics v2 (internal/store/node.go)
// writes them:
// - kube_node_labels{node, label_<key>} 1, one series per Node, carrying only the label keys given
//   with --metric-labels-allowlist=nodes=[…] (none by default); a key becomes label_ plus the key
//   with every character outside [a-zA-Z0-9_] turned into _;
// - kube_node_status_allocatable{node, resource, unit} per resource in the Node's
//   status.allocatable; an extended resource's name is sanitised the same way and its unit is
//   "integer" (riseproject.com/runner → resource="riseproject_com_runner").
// The Nodes and their labels come from the API server stand-in; status.allocatable, which the
// kubelet writes, comes from each node's kubelet stand-in (what its device plugins' streams say
// now; the real kubelet copies it into the Node at its next status sync, 5-7 s later).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeApiServer } from './apiserver.js';
import type { FakeKubelet } from './kubelet.js';

/** kube-state-metrics' SanitizeLabelName. */
export function ksmSanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** A Node's status.allocatable for its extended resources: every resource that ever registered
 * with the kubelet stays there, at 0 once its plugin has gone (kubelet behaviour). */
export function kubeletAllocatable(kubelet: FakeKubelet): Record<string, number> {
  const names = [...new Set(kubelet.registrations.map((r) => r.resourceName))];
  return Object.fromEntries(names.map((name) => [name, kubelet.allocatable(name)]));
}

function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function series(name: string, labels: [string, string][], value: number): string {
  return `${name}{${labels.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}} ${value}`;
}

export interface FakeKubeStateMetricsOptions {
  api: FakeApiServer;
  /** A Node's extended resources and their allocatable count, e.g. from its FakeKubelet; undefined: no kubelet known. */
  allocatable: (node: string) => Record<string, number> | undefined;
  /** Label keys of --metric-labels-allowlist=nodes=[…]. */
  nodeLabelsAllowlist?: string[];
}

export class FakeKubeStateMetrics {
  private server: http.Server | undefined;

  constructor(private readonly options: FakeKubeStateMetricsOptions) {}

  /** The /metrics body for the API server stand-in's Nodes as they are now. */
  render(): string {
    const allow = this.options.nodeLabelsAllowlist ?? [];
    const labels = ['# HELP kube_node_labels Kubernetes labels converted to Prometheus labels.', '# TYPE kube_node_labels gauge'];
    const allocatable = [
      '# HELP kube_node_status_allocatable The allocatable for different resources of a node that are available for scheduling.',
      '# TYPE kube_node_status_allocatable gauge',
    ];
    for (const name of [...this.options.api.nodes.keys()].sort()) {
      const nodeLabels = this.options.api.nodes.get(name)?.metadata.labels ?? {};
      const kept = allow.filter((k) => k in nodeLabels).map((k): [string, string] => [`label_${ksmSanitize(k)}`, nodeLabels[k] ?? '']);
      labels.push(series('kube_node_labels', [['node', name], ...kept.sort(([a], [b]) => a.localeCompare(b))], 1));
      for (const [resource, count] of Object.entries(this.options.allocatable(name) ?? {}).sort(([a], [b]) => a.localeCompare(b)))
        allocatable.push(series('kube_node_status_allocatable', [['node', name], ['resource', ksmSanitize(resource)], ['unit', 'integer']], count));
    }
    return [...labels, ...allocatable, ''].join('\n');
  }

  /** Listens on host:port (0 picks one) and returns the /metrics URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.render());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    return `http://${host}:${address.port}/metrics`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
