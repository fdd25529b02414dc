// The resource.k8s.io/v1 part of the fake API server: ResourceSlices and ResourceClaims under the
// Node authorizer and NodeRestriction, as ../shared/reference/kubelet-dra.md §3 describes them:
// - slices: create (generateName), get, update (409 on a stale resourceVersion, 422 when an
//   immutable field changes), delete, list, watch and deletecollection; field selectors
//   spec.nodeName, spec.driver and metadata.name;
// - a node identity may create only slices with its own spec.nodeName, get/update/delete only
//   slices stored with its nodeName, and list/watch/deletecollection only with a field selector
//   that holds spec.nodeName=<own node>;
// - validation a node-local driver meets: driver and pool names, generation ≥ 0,
//   resourceSliceCount > 0, exactly one node selection field, ≤ 128 devices with unique DNS-label
//   names, each attribute exactly one of int/bool/string/version (string ≤ 64), qualified
//   names (C identifier ≤ 32, optionally domain/), ≤ 32 attributes and capacities per device;
// - claims: a node may only GET a claim that a pod bound to it references; no list, watch or writes.
// The rules are written here from the reference, not taken from the code under test.
import type http from 'node:http';

export interface FakeSlice {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceSlice';
  metadata: { name: string; uid: string; resourceVersion: string; generateName?: string; ownerReferences?: unknown[] };
  spec: {
    driver: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    nodeName?: string;
    nodeSelector?: unknown;
    allNodes?: boolean;
    perDeviceNodeSelection?: boolean;
    devices?: Array<{ name: string; attributes?: Record<string, Record<string, unknown>>; capacity?: Record<string, { value: string }> }>;
  };
}

export interface FakeClaim {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceClaim';
  metadata: { name: string; namespace: string; uid: string; resourceVersion?: string };
  spec: Record<string, unknown>;
  status?: {
    allocation?: {
      devices: { results: Array<{ request: string; driver: string; pool: string; device: string; adminAccess?: boolean }> };
    };
    reservedFor?: Array<{ resource: 'pods'; name: string; uid: string }>;
  };
}

/** What decides whether a node may read a claim: a pod on that node that uses it. */
export interface FakePod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  /** Names of the ResourceClaims the pod references (for a template: once its status names them). */
  claims: string[];
}

export type SliceEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface SliceWatcher {
  selector: Selector;
  res: http.ServerResponse;
}

type Selector = Array<{ field: string; value: string }>;

export interface ResourceRequest {
  method: string;
  path: string;
  url: URL;
  body: string;
  user: string;
  /** The node name when the user is system:node:<name>. */
  own: string | undefined;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}

export type Answer = { code: number; body: unknown } | { streaming: true };

const PREFIX = '/apis/resource.k8s.io/v1/';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const SUPPORTED_FIELDS = ['spec.nodeName', 'spec.driver', 'metadata.name'];

function dnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every((p) => DNS_LABEL.test(p));
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Problems a real API server would answer 422 for, in its wording where the reference gives it. */
export function sliceProblems(slice: FakeSlice): string[] {
  const problems: string[] = [];
  const spec = slice.spec ?? ({} as FakeSlice['spec']);
  const driver = String(spec.driver ?? '');
  if (driver.length > 63 || !dnsSubdomain(driver.toLowerCase())) problems.push(`spec.driver: Invalid value: "${driver}"`);
  const pool = spec.pool ?? ({} as FakeSlice['spec']['pool']);
  if (typeof pool.name !== 'string' || pool.name.length > 253 || !pool.name.split('/').every(dnsSubdomain)) {
    problems.push(`spec.pool.name: Invalid value: ${JSON.stringify(pool.name)}`);
  }
  if (!Number.isInteger(pool.generation) || pool.generation < 0) problems.push('spec.pool.generation: Invalid value: must be ≥ 0');
  if (!Number.isInteger(pool.resourceSliceCount) || pool.resourceSliceCount <= 0) problems.push('spec.pool.resourceSliceCount: Invalid value: must be > 0');
  const selections = [spec.nodeName !== undefined && spec.nodeName !== '', spec.nodeSelector !== undefined, spec.allNodes === true, spec.perDeviceNodeSelection === true];
  if (selections.filter(Boolean).length !== 1) problems.push('spec: Invalid value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required');
  const devices = spec.devices ?? [];
  if (devices.length > 128) problems.push(`spec.devices: Too many: ${devices.length}: must have at most 128 items`);
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    const at = `spec.devices[${i}]`;
    if (typeof d.name !== 'string' || d.name.length > 63 || !DNS_LABEL.test(d.name)) problems.push(`${at}.name: Invalid value: ${JSON.stringify(d.name)}`);
    if (seen.has(d.name)) problems.push(`${at}.name: Duplicate value: "${d.name}"`);
    seen.add(d.name);
    const attributes = Object.entries(d.attributes ?? {});
    const capacity = Object.entries(d.capacity ?? {});
    if (attributes.length + capacity.length > 32) problems.push(`${at}: Too many: ${attributes.length + capacity.length}: must have at most 32 attributes and capacities combined`);
    for (const [name] of [...attributes, ...capacity]) {
      const slash = name.indexOf('/');
      const id = slash < 0 ? name : name.slice(slash + 1);
      const domain = slash < 0 ? undefined : name.slice(0, slash);
      if (id.length > 32 || !C_IDENTIFIER.test(id) || (domain !== undefined && (domain.length > 63 || !dnsSubdomain(domain)))) {
        problems.push(`${at}.attributes[${name}]: Invalid value: "${name}": a C identifier of at most 32 characters, optionally after a domain and "/"`);
      }
    }
    for (const [name, value] of attributes) {
      const set = ['int', 'bool', 'string', 'version'].filter((k) => value[k] !== undefined);
      if (set.length !== 1) {
        problems.push(`${at}.attributes[${name}]: Required value: exactly one value must be specified`);
        continue;
      }
      const v = value[set[0] ?? ''];
      if (set[0] === 'int' && !Number.isInteger(v)) problems.push(`${at}.attributes[${name}].int: Invalid value`);
      if (set[0] === 'bool' && typeof v !== 'boolean') problems.push(`${at}.attributes[${name}].bool: Invalid value`);
      if (set[0] === 'string' && (typeof v !== 'string' || v.length > 64)) problems.push(`${at}.attributes[${name}].string: Too long: may not be more than 64 bytes`);
      if (set[0] === 'version' && (typeof v !== 'string' || v.length > 64 || !SEMVER.test(v))) problems.push(`${at}.attributes[${name}].version: Invalid value`);
    }
    for (const [name, value] of capacity) {
      if (typeof value?.value !== 'string' || !QUANTITY.test(value.value)) problems.push(`${at}.capacity[${name}].value: Invalid value: ${JSON.stringify(value?.value)}`);
    }
  });
  return problems;
}

function parseSelector(text: string | null): Selector | string {
  const out: Selector = [];
  if (text === null || text === '') return out;
  for (const part of text.split(',')) {
    const m = /^([^=!]+)==?(.*)$/.exec(part.trim());
    if (!m || !SUPPORTED_FIELDS.includes(m[1] ?? '')) return `"${part}" is not a known field selector: only "spec.nodeName", "spec.driver", "metadata.name"`;
    out.push({ field: m[1] ?? '', value: m[2] ?? '' });
  }
  return out;
}

function fieldOf(slice: FakeSlice, field: string): string {
  if (field === 'spec.nodeName') return slice.spec.nodeName ?? '';
  if (field === 'spec.driver') return slice.spec.driver;
  return slice.metadata.name;
}

function matches(slice: FakeSlice, selector: Selector): boolean {
  return selector.every((s) => fieldOf(slice, s.field) === s.value);
}

export class FakeResourceApi {
  readonly slices = new Map<string, FakeSlice>();
  readonly claims = new Map<string, FakeClaim>();
  readonly pods = new Map<string, FakePod>();
  private readonly watchers = new Set<SliceWatcher>();
  private history: Array<{ rv: number; type: SliceEventType; slice: FakeSlice }> = [];
  private uid = 0;
  /** Names a create made less than graphLagMs ago: the Node authorizer's graph has not seen them yet. */
  private readonly fresh = new Map<string, number>();

  constructor(
    private readonly nextRv: () => number,
    private readonly currentRv: () => number,
    private readonly options: { historyLimit?: number; watchTimeoutMs?: (s: number) => number; graphLagMs?: number } = {},
  ) {}

  static handles(pathname: string): boolean {
    return pathname.startsWith(PREFIX);
  }

  /** What verb a request is, for the server's counts and log. */
  static verbOf(method: string, pathname: string, url: URL): string {
    const rest = pathname.slice(PREFIX.length).split('/');
    const named = rest[0] === 'resourceslices' ? rest.length > 1 : rest.length > 3;
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    if (method === 'GET') return named ? 'get' : watch ? 'watch' : 'list';
    if (method === 'POST') return 'create';
    if (method === 'PUT') return 'update';
    if (method === 'PATCH') return 'patch';
    return named ? 'delete' : 'deletecollection';
  }

  // ---- what other actors do (the scheduler, an admin, the garbage collector) ----

  addPod(pod: FakePod): void {
    this.pods.set(`${pod.namespace}/${pod.name}`, { ...pod, claims: [...pod.claims] });
  }

  putClaim(claim: FakeClaim): void {
    const stored = structuredClone(claim);
    stored.metadata.resourceVersion = String(this.nextRv());
    this.claims.set(`${claim.metadata.namespace}/${claim.metadata.name}`, stored);
  }

  deleteClaim(namespace: string, name: string): void {
    this.claims.delete(`${namespace}/${name}`);
  }

  /** Deletes one slice as another actor would (an admin, the kubelet's wipe with admin rights). */
  deleteSlice(name: string): boolean {
    const slice = this.slices.get(name);
    if (!slice) return false;
    this.commit('DELETED', slice);
    return true;
  }

  /** Every slice for a node, optionally of one driver. */
  slicesOf(nodeName: string, driver?: string): FakeSlice[] {
    return [...this.slices.values()].filter((s) => s.spec.nodeName === nodeName && (driver === undefined || s.spec.driver === driver));
  }

  compact(): void {
    this.history = this.history.slice(-1);
  }

  stopWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  private commit(type: SliceEventType, slice: FakeSlice): FakeSlice {
    const stored = structuredClone(slice);
    const rv = this.nextRv();
    stored.metadata.resourceVersion = String(rv);
    if (type === 'DELETED') this.slices.delete(stored.metadata.name);
    else this.slices.set(stored.metadata.name, stored);
    this.history.push({ rv, type, slice: stored });
    if (this.history.length > (this.options.historyLimit ?? 1000)) this.history.shift();
    for (const w of this.watchers) if (matches(stored, w.selector)) w.res.write(`${JSON.stringify({ type, object: stored })}\n`);
    return stored;
  }

  // ---- the HTTP side ----

  route(r: ResourceRequest): Answer {
    const rest = r.path.slice(PREFIX.length).split('/').map(decodeURIComponent);
    if (rest[0] === 'resourceslices' && rest.length <= 2) return this.sliceRoute(r, rest[1]);
    if (rest[0] === 'namespaces' && rest[2] === 'resourceclaims' && rest.length <= 4) return this.claimRoute(r, rest[1] ?? '', rest[3]);
    return { code: 404, body: status(404, 'NotFound', 'the server could not find the requested resource') };
  }

  private forbidden(r: ResourceRequest, verb: string, message: string): Answer {
    return { code: 403, body: status(403, 'Forbidden', `resourceslices is forbidden: User "${r.user}" cannot ${verb} resource "resourceslices" in API group "resource.k8s.io": ${message}`) };
  }

  private sliceRoute(r: ResourceRequest, name: string | undefined): Answer {
    const verb = FakeResourceApi.verbOf(r.method, r.path, r.url);
    if (name === undefined && (verb === 'list' || verb === 'watch' || verb === 'deletecollection')) {
      const selector = parseSelector(r.url.searchParams.get('fieldSelector'));
      if (typeof selector === 'string') return { code: 400, body: status(400, 'BadRequest', selector) };
      if (r.own !== undefined && !selector.some((s) => s.field === 'spec.nodeName' && s.value === r.own)) {
        return this.forbidden(r, verb, 'can only list/watch/deletecollection resourceslices with nodeName field selector');
      }
      const selected = [...this.slices.values()].filter((s) => matches(s, selector));
      if (verb === 'list') {
        return { code: 200, body: { kind: 'ResourceSliceList', apiVersion: 'resource.k8s.io/v1', metadata: { resourceVersion: String(this.currentRv()) }, items: selected } };
      }
      if (verb === 'deletecollection') {
        for (const s of selected) this.commit('DELETED', s);
        return { code: 200, body: { kind: 'ResourceSliceList', apiVersion: 'resource.k8s.io/v1', metadata: {}, items: selected } };
      }
      return this.watch(r, selector);
    }
    if (verb === 'create' && name === undefined) return this.create(r);
    if (name === undefined) return { code: 405, body: status(405, 'MethodNotAllowed', `${verb} on the collection is not modelled`) };
    const stored = this.slices.get(name);
    if (r.own !== undefined) {
      // The Node authorizer's graph knows a slice only once its informer saw it.
      const lagging = (this.fresh.get(name) ?? 0) > Date.now();
      if (stored === undefined || stored.spec.nodeName !== r.own || lagging) {
        return this.forbidden(r, verb, `no relationship found between node '${r.own}' and this object`);
      }
    }
    if (stored === undefined) return { code: 404, body: status(404, 'NotFound', `resourceslices.resource.k8s.io "${name}" not found`) };
    if (verb === 'get') return { code: 200, body: stored };
    if (verb === 'delete') {
      this.commit('DELETED', stored);
      return { code: 200, body: stored };
    }
    if (verb !== 'update') return { code: 405, body: status(405, 'MethodNotAllowed', `the fake API server does not model ${r.method} on resourceslices`) };
    let next: FakeSlice;
    try {
      next = JSON.parse(r.body) as FakeSlice;
    } catch {
      return { code: 400, body: status(400, 'BadRequest', 'invalid JSON') };
    }
    if (next.metadata?.resourceVersion !== stored.metadata.resourceVersion) {
      return { code: 409, body: status(409, 'Conflict', `Operation cannot be fulfilled on resourceslices.resource.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`) };
    }
    const immutable = (['driver', 'nodeName'] as const).filter((f) => next.spec?.[f] !== stored.spec[f]);
    if (next.spec?.pool?.name !== stored.spec.pool.name) immutable.push('pool.name' as never);
    const problems = [...sliceProblems(next), ...immutable.map((f) => `spec.${f}: Invalid value: field is immutable`)];
    if (problems.length > 0) return { code: 422, body: status(422, 'Invalid', `ResourceSlice.resource.k8s.io "${name}" is invalid: ${problems.join(', ')}`) };
    next.metadata = { ...next.metadata, name, uid: stored.metadata.uid };
    return { code: 200, body: this.commit('MODIFIED', next) };
  }

  private create(r: ResourceRequest): Answer {
    let slice: FakeSlice;
    try {
      slice = JSON.parse(r.body) as FakeSlice;
    } catch {
      return { code: 400, body: status(400, 'BadRequest', 'invalid JSON') };
    }
    if (r.own !== undefined && slice.spec?.nodeName !== r.own) {
      return { code: 403, body: status(403, 'Forbidden', `resourceslices.resource.k8s.io is forbidden: can only create ResourceSlice with the same NodeName as the requesting node`) };
    }
    slice.metadata ??= { name: '', uid: '', resourceVersion: '' };
    if (!slice.metadata.name && slice.metadata.generateName) {
      slice.metadata.name = `${slice.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    }
    const name = slice.metadata.name;
    if (!name || !dnsSubdomain(name)) return { code: 422, body: status(422, 'Invalid', `ResourceSlice.resource.k8s.io "${name}" is invalid: metadata.name: Invalid value`) };
    if (this.slices.has(name)) return { code: 409, body: status(409, 'AlreadyExists', `resourceslices.resource.k8s.io "${name}" already exists`) };
    const problems = sliceProblems(slice);
    if (problems.length > 0) return { code: 422, body: status(422, 'Invalid', `ResourceSlice.resource.k8s.io "${name}" is invalid: ${problems.join(', ')}`) };
    this.uid += 1;
    slice.metadata.uid = `slice-uid-${this.uid}`;
    if (this.options.graphLagMs) this.fresh.set(name, Date.now() + this.options.graphLagMs);
    return { code: 201, body: this.commit('ADDED', slice) };
  }

  private watch(r: ResourceRequest, selector: Selector): Answer {
    const { res, req, url } = r;
    const from = url.searchParams.get('resourceVersion');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const send = (type: string, object: unknown): void => void res.write(`${JSON.stringify({ type, object })}\n`);
    if (from === null || from === '' || from === '0') {
      for (const s of this.slices.values()) if (matches(s, selector)) send('ADDED', s);
    } else {
      const since = Number(from);
      const oldest = this.history[0]?.rv ?? this.currentRv();
      if (!(since >= oldest - 1) || since > this.currentRv()) {
        send('ERROR', status(410, 'Expired', `too old resource version: ${from} (${oldest})`));
        res.end();
        return { streaming: true };
      }
      for (const e of this.history) if (e.rv > since && matches(e.slice, selector)) send(e.type, e.slice);
    }
    const watcher: SliceWatcher = { selector, res };
    this.watchers.add(watcher);
    const seconds = Number(url.searchParams.get('timeoutSeconds') ?? '1800');
    const timer = setTimeout(() => res.end(), (this.options.watchTimeoutMs ?? ((s: number) => s * 1000))(seconds));
    const done = (): void => {
      clearTimeout(timer);
      this.watchers.delete(watcher);
    };
    res.on('close', done);
    req.on('close', done);
    return { streaming: true };
  }

  private claimRoute(r: ResourceRequest, namespace: string, name: string | undefined): Answer {
    const verb = FakeResourceApi.verbOf(r.method, r.path, r.url);
    if (r.own !== undefined) {
      const reachable =
        verb === 'get' &&
        name !== undefined &&
        [...this.pods.values()].some((p) => p.namespace === namespace && p.nodeName === r.own && p.claims.includes(name));
      if (!reachable) {
        return {
          code: 403,
          body: status(403, 'Forbidden', `resourceclaims.resource.k8s.io${name ? ` "${name}"` : ''} is forbidden: User "${r.user}" cannot ${verb} resource "resourceclaims" in API group "resource.k8s.io" in the namespace "${namespace}": no relationship found between node '${r.own}' and this object`),
        };
      }
    }
    if (verb !== 'get' || name === undefined) return { code: 405, body: status(405, 'MethodNotAllowed', `the fake API server does not model ${verb} on resourceclaims`) };
    const claim = this.claims.get(`${namespace}/${name}`);
    return claim ? { code: 200, body: claim } : { code: 404, body: status(404, 'NotFound', `resourceclaims.resource.k8s.io "${name}" not found`) };
  }
}
