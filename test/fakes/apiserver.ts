// A fake kube-apiserver for Nodes: GET, merge PATCH, single-Node watch, NodeRestriction, faults, request counts.
//
// Models ../reference (node labels): merge patch with null deletes; 409 on a write carrying a stale
// resourceVersion; watch from a resourceVersion with fieldSelector metadata.name, 410 Expired when that
// version is compacted away, ADDED for current state when none is given; a node identity
// (system:node:<name>, via bearer token) may read and patch only its own Node, may not list all
// Nodes, and may not touch labels under kubernetes.io/k8s.io outside the kubelet's own set.
// ResourceSlices and ResourceClaims (resource.k8s.io/v1) live in resource-api.ts.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isValidLabelKey, isValidLabelValue } from '../../src/common/labels.js';
import { FakeResourceApi } from './resource-api.js';

export type Verb = 'get' | 'list' | 'watch' | 'patch' | 'update' | 'create' | 'delete' | 'deletecollection' | 'unauthorized';

export interface FakeNode {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: { taints?: unknown[] };
  status: Record<string, unknown>;
}

export interface FakeApiServerOptions {
  /** Bearer token → user; "system:node:<name>" is a node identity under NodeRestriction. */
  tokens?: Record<string, string>;
  /** How long a watch asked for timeoutSeconds stays open, in real ms (tests scale it down). */
  watchTimeoutMs?: (timeoutSeconds: number) => number;
  /** How many past events are kept for watches to resume from. */
  historyLimit?: number;
  /** How long after a create a node's own credentials still get 403 on that slice (the authorizer's graph lags). */
  graphLagMs?: number;
}

interface WatchEventRecord {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  node: FakeNode;
}

interface Watcher {
  name: string | undefined;
  res: http.ServerResponse;
}

/** Labels the kubelet may set on its own Node under kubernetes.io / k8s.io (NodeRestriction). */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);

function labelForbiddenForNode(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const prefix = key.slice(0, slash);
  if (prefix === 'node-restriction.kubernetes.io' || prefix.endsWith('.node-restriction.kubernetes.io')) return true;
  const k8s = prefix === 'kubernetes.io' || prefix.endsWith('.kubernetes.io') || prefix === 'k8s.io' || prefix.endsWith('.k8s.io');
  if (!k8s) return false;
  if (KUBELET_LABELS.has(key)) return false;
  return !(prefix.endsWith('kubelet.kubernetes.io') || prefix.endsWith('node.kubernetes.io'));
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export class FakeApiServer {
  readonly nodes = new Map<string, FakeNode>();
  readonly counts: Record<Verb, number> = { get: 0, list: 0, watch: 0, patch: 0, update: 0, create: 0, delete: 0, deletecollection: 0, unauthorized: 0 };
  /** Every request: verb, path and the status answered (0 when the connection was reset). */
  /** Every request; `body` is what a PATCH sent, so a test can tell which keys a client wrote. */
  readonly log: Array<{ verb: Verb; path: string; status: number; user: string | undefined; contentType: string | undefined; body?: string }> = [];
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = new Set<Watcher>();
  private history: WatchEventRecord[] = [];
  private rv = 100;
  private port = 0;
  private host = '127.0.0.1';
  private readonly tokens: Record<string, string>;
  private queuedFaults: Array<number | 'reset'> = [];
  private delayMs = 0;

  /** ResourceSlices, ResourceClaims and the pods that let a node read a claim. */
  readonly resource: FakeResourceApi;

  constructor(private readonly options: FakeApiServerOptions = {}) {
    this.tokens = { ...(options.tokens ?? {}) };
    const limits = {
      ...(options.historyLimit !== undefined ? { historyLimit: options.historyLimit } : {}),
      ...(options.watchTimeoutMs !== undefined ? { watchTimeoutMs: options.watchTimeoutMs } : {}),
      ...(options.graphLagMs !== undefined ? { graphLagMs: options.graphLagMs } : {}),
    };
    this.resource = new FakeResourceApi(() => (this.rv += 1), () => this.rv, limits);
  }

  /** Listens (port 0 picks one; after stop() the same port is reused) and returns the base URL. */
  async start(port = this.port, host = this.host): Promise<string> {
    this.host = host;
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Stops listening and drops every connection, watches included: clients see refused/reset. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.resource.stopWatches();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  addToken(token: string, user: string): void {
    this.tokens[token] = user;
  }

  /** Revokes a token: its requests get 401 from now on (a rotated credential). */
  removeToken(token: string): void {
    delete this.tokens[token];
  }

  /** The next n requests fail with this HTTP status (or have their connection reset). */
  failNext(n: number, fault: number | 'reset'): void {
    for (let i = 0; i < n; i += 1) this.queuedFaults.push(fault);
  }

  /** Every answer is delayed by ms (slow API server). */
  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  /** Writes (PATCH, PUT, POST, DELETE) answered, whatever the status. */
  get writes(): number {
    return this.counts.patch + this.counts.update + this.counts.create + this.counts.delete + this.counts.deletecollection;
  }

  resetCounts(): void {
    for (const k of Object.keys(this.counts) as Verb[]) this.counts[k] = 0;
    this.log.length = 0;
  }

  /** The kubelet registering its Node. */
  createNode(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): FakeNode {
    const node: FakeNode = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        uid: `uid-${name}`,
        resourceVersion: '',
        creationTimestamp: new Date(0).toISOString(),
        labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/arch': 'riscv64', 'kubernetes.io/os': 'linux', ...labels },
        annotations: { ...annotations },
      },
      spec: {},
      status: {},
    };
    this.commit('ADDED', node);
    return node;
  }

  deleteNode(name: string): void {
    const node = this.nodes.get(name);
    if (!node) return;
    this.nodes.delete(name);
    this.commit('DELETED', node);
  }

  /** Another actor (an admin, another controller) edits labels: merge-patch semantics, null deletes. */
  editLabels(name: string, labels: Record<string, string | null>): void {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    this.commit('MODIFIED', mergePatch(node, { metadata: { labels } }) as FakeNode);
  }

  /**
   * The kubelet posting its Node's status (at a change, and every nodeStatusReportFrequency,
   * 5 minutes, when nothing changed): status fields merged in, labels left alone, and a
   * MODIFIED event for watchers, as any write to the Node gives.
   */
  reportStatus(name: string, status: Record<string, unknown>): void {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    this.commit('MODIFIED', mergePatch(node, { status }) as FakeNode);
  }

  /** Forgets history older than the latest event, so resuming an older watch gets 410. */
  compact(): void {
    this.history = this.history.slice(-1);
  }

  private commit(type: WatchEventRecord['type'], node: FakeNode): void {
    this.rv += 1;
    const stored = structuredClone(node);
    stored.metadata.resourceVersion = String(this.rv);
    if (type === 'DELETED') this.nodes.delete(stored.metadata.name);
    else this.nodes.set(stored.metadata.name, stored);
    const event: WatchEventRecord = { rv: this.rv, type, node: stored };
    this.history.push(event);
    if (this.history.length > (this.options.historyLimit ?? 1000)) this.history.shift();
    for (const w of this.watchers) if (w.name === undefined || w.name === stored.metadata.name) this.send(w.res, type, stored);
  }

  private send(res: http.ServerResponse, type: string, object: unknown): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private reply(res: http.ServerResponse, code: number, body: unknown): number {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
    return code;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await new Promise<string>((resolve) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => resolve(text));
      req.on('error', () => resolve(text));
    });
    const m = /^\/api\/v1\/nodes(?:\/([^/]+))?$/.exec(url.pathname);
    const name = m?.[1] === undefined ? undefined : decodeURIComponent(m[1]);
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb: Verb = FakeResourceApi.handles(url.pathname)
      ? (FakeResourceApi.verbOf(req.method ?? 'GET', url.pathname, url) as Verb)
      : req.method === 'GET' ? (name !== undefined ? 'get' : isWatch ? 'watch' : 'list')
      : req.method === 'PATCH' ? 'patch'
      : req.method === 'PUT' ? 'update'
      : req.method === 'POST' ? 'create'
      : 'delete';
    const auth = req.headers.authorization;
    const user = auth?.startsWith('Bearer ') ? this.tokens[auth.slice(7)] : undefined;
    const entry = {
      verb: user === undefined ? ('unauthorized' as Verb) : verb,
      path: url.pathname + url.search,
      status: 0,
      user,
      contentType: req.headers['content-type'],
      ...(verb === 'patch' || verb === 'create' || verb === 'update' ? { body } : {}),
    };
    this.log.push(entry);
    this.counts[entry.verb] += 1;

    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.server === undefined) {
      res.destroy();
      return;
    }
    const fault = this.queuedFaults.shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault !== undefined) {
      entry.status = this.reply(res, fault, status(fault, 'InternalError', `fake fault: HTTP ${fault}`));
      return;
    }
    if (user === undefined) {
      entry.status = this.reply(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (FakeResourceApi.handles(url.pathname)) {
      const own = /^system:node:(.+)$/.exec(user)?.[1];
      const answer = this.resource.route({ method: req.method ?? 'GET', path: url.pathname, url, body, user, own, req, res });
      entry.status = 'streaming' in answer ? 200 : this.reply(res, answer.code, answer.body);
      return;
    }
    if (!m) {
      entry.status = this.reply(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const own = /^system:node:(.+)$/.exec(user)?.[1];
    entry.status = this.route(req, res, verb, name, own, user, url, body);
  }

  private route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    verb: Verb,
    name: string | undefined,
    own: string | undefined,
    user: string,
    url: URL,
    body: string,
  ): number {
    if (verb === 'list' || verb === 'watch') {
      const selector = url.searchParams.get('fieldSelector') ?? '';
      const selected = /^metadata\.name=(.+)$/.exec(selector)?.[1];
      if (own !== undefined && selected !== own) {
        return this.reply(res, 403, status(403, 'Forbidden',
          `nodes is forbidden: User "${user}" cannot ${verb} resource "nodes" in API group "" at the cluster scope: node '${own}' cannot read all nodes, only its own Node object`));
      }
      if (verb === 'list') {
        const items = [...this.nodes.values()].filter((n) => selected === undefined || n.metadata.name === selected);
        return this.reply(res, 200, { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
      }
      return this.watch(req, res, selected, url);
    }
    if (name === undefined) return this.reply(res, 405, status(405, 'MethodNotAllowed', `${verb} on the collection is not modelled`));
    if (own !== undefined && name !== own) {
      const message = verb === 'get'
        ? `nodes "${name}" is forbidden: User "${user}" cannot get resource "nodes" in API group "" at the cluster scope: node '${own}' cannot read '${name}', only its own Node object`
        : `node "${own}" is not allowed to modify node "${name}"`;
      return this.reply(res, 403, status(403, 'Forbidden', message, { name, kind: 'nodes' }));
    }
    const node = this.nodes.get(name);
    if (verb === 'get') {
      return node ? this.reply(res, 200, node) : this.reply(res, 404, status(404, 'NotFound', `nodes "${name}" not found`, { name, kind: 'nodes' }));
    }
    if (verb !== 'patch') {
      // The labeller must never replace a whole Node; anything else is not modelled.
      return this.reply(res, 405, status(405, 'MethodNotAllowed', `the fake API server does not model ${req.method} on nodes`));
    }
    if (!node) return this.reply(res, 404, status(404, 'NotFound', `nodes "${name}" not found`, { name, kind: 'nodes' }));
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (type !== 'application/merge-patch+json') {
      return this.reply(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (fake)`));
    }
    let patch: unknown;
    try {
      patch = JSON.parse(body);
    } catch {
      return this.reply(res, 400, status(400, 'BadRequest', 'error decoding patch: invalid JSON'));
    }
    const sentRv = (patch as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
    if (sentRv !== undefined && sentRv !== node.metadata.resourceVersion) {
      return this.reply(res, 409, status(409, 'Conflict',
        `Operation cannot be fulfilled on nodes "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'nodes' }));
    }
    const next = mergePatch(node, patch) as FakeNode;
    next.metadata.labels ??= {};
    next.metadata.annotations ??= {};
    next.metadata.name = node.metadata.name;
    const invalid = Object.entries(next.metadata.labels).filter(([k, v]) => !isValidLabelKey(k) || typeof v !== 'string' || !isValidLabelValue(v));
    if (invalid.length > 0) {
      return this.reply(res, 422, status(422, 'Invalid', `Node "${name}" is invalid: metadata.labels: Invalid value: ${JSON.stringify(invalid[0]?.[1])}`));
    }
    if (own !== undefined) {
      const changed = new Set([...Object.keys(node.metadata.labels), ...Object.keys(next.metadata.labels)]);
      const forbidden = [...changed].filter((k) => node.metadata.labels[k] !== next.metadata.labels[k] && labelForbiddenForNode(k));
      if (forbidden.length > 0) {
        return this.reply(res, 403, status(403, 'Forbidden', `nodes "${name}" is forbidden: is not allowed to modify labels: ${forbidden.sort().join(', ')}`));
      }
      if (JSON.stringify(node.spec.taints ?? []) !== JSON.stringify(next.spec?.taints ?? [])) {
        return this.reply(res, 403, status(403, 'Forbidden', `nodes "${name}" is forbidden: node "${own}" is not allowed to modify taints`));
      }
    }
    this.commit('MODIFIED', next);
    return this.reply(res, 200, this.nodes.get(name));
  }

  private watch(req: http.IncomingMessage, res: http.ServerResponse, name: string | undefined, url: URL): number {
    const from = url.searchParams.get('resourceVersion');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // The real server answers the headers at once; a client waits for them before the first event.
    res.flushHeaders();
    const watcher: Watcher = { name, res };
    if (from === null || from === '' || from === '0') {
      // No version: the current state first, as ADDED, then changes.
      for (const node of this.nodes.values()) if (name === undefined || node.metadata.name === name) this.send(res, 'ADDED', node);
    } else {
      const since = Number(from);
      const oldest = this.history[0]?.rv ?? this.rv;
      if (!(since >= oldest - 1) || since > this.rv) {
        this.send(res, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${oldest})`));
        res.end();
        return 200;
      }
      for (const e of this.history) if (e.rv > since && (name === undefined || e.node.metadata.name === name)) this.send(res, e.type, e.node);
    }
    this.watchers.add(watcher);
    const seconds = Number(url.searchParams.get('timeoutSeconds') ?? '1800');
    const ms = (this.options.watchTimeoutMs ?? ((s: number) => s * 1000))(seconds);
    const timer = setTimeout(() => res.end(), ms);
    const done = (): void => {
      clearTimeout(timer);
      this.watchers.delete(watcher);
    };
    res.on('close', done);
    req.on('close', done);
    return 200;
  }

  /** A kubeconfig for this server and a bearer token (plain HTTP needs insecure-skip-tls-verify). */
  kubeconfig(token: string): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: fake',
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: fake',
      'current-context: fake',
      '',
    ].join('\n');
  }
}
