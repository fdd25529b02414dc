// The fake API server checked against the reference: the behaviour the labeller is tested against must be real.
import test from 'ava';
import { FakeApiServer } from '../fakes/apiserver.js';

async function started(t: import('ava').ExecutionContext, options = {}): Promise<{ api: FakeApiServer; url: string }> {
  const api = new FakeApiServer({ tokens: { admin: 'system:admin', n1: 'system:node:rv-1' }, ...options });
  const url = await api.start(0);
  t.teardown(() => api.stop());
  api.createNode('rv-1', { 'team/owner': 'ci' });
  api.createNode('rv-2');
  return { api, url };
}

function req(url: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  return fetch(url, { ...init, headers });
}

const merge = { 'Content-Type': 'application/merge-patch+json' };

test('GET a node, 404 for a missing one, 401 without credentials; counted by verb', async (t) => {
  const { api, url } = await started(t);
  const ok = await req(`${url}/api/v1/nodes/rv-1`, 'admin');
  t.is(ok.status, 200);
  t.is(((await ok.json()) as { metadata: { labels: Record<string, string> } }).metadata.labels['team/owner'], 'ci');
  const missing = await req(`${url}/api/v1/nodes/nope`, 'admin');
  t.is(missing.status, 404);
  t.like(await missing.json(), { kind: 'Status', reason: 'NotFound', code: 404 });
  t.is((await req(`${url}/api/v1/nodes/rv-1`, undefined)).status, 401);
  t.like(api.counts, { get: 2, unauthorized: 1, patch: 0 });
});

test('merge patch: sets and deletes (null) labels, leaves the others, bumps resourceVersion', async (t) => {
  const { api, url } = await started(t);
  const before = api.nodes.get('rv-1')?.metadata.resourceVersion;
  const res = await req(`${url}/api/v1/nodes/rv-1`, 'admin', {
    method: 'PATCH',
    headers: merge,
    body: JSON.stringify({ metadata: { labels: { 'riseproject.dev/board': 'x', 'team/owner': null } } }),
  });
  t.is(res.status, 200);
  const labels = api.nodes.get('rv-1')?.metadata.labels ?? {};
  t.is(labels['riseproject.dev/board'], 'x');
  t.false('team/owner' in labels);
  t.is(labels['kubernetes.io/hostname'], 'rv-1');
  t.not(api.nodes.get('rv-1')?.metadata.resourceVersion, before);
});

test('a write carrying a stale resourceVersion is refused with 409; the current one is accepted', async (t) => {
  const { api, url } = await started(t);
  const rv = api.nodes.get('rv-1')?.metadata.resourceVersion;
  api.editLabels('rv-1', { a: 'b' });
  const stale = await req(`${url}/api/v1/nodes/rv-1`, 'admin', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { resourceVersion: rv, labels: { c: 'd' } } }) });
  t.is(stale.status, 409);
  t.like(await stale.json(), { reason: 'Conflict' });
  const fresh = api.nodes.get('rv-1')?.metadata.resourceVersion;
  const ok = await req(`${url}/api/v1/nodes/rv-1`, 'admin', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { resourceVersion: fresh, labels: { c: 'd' } } }) });
  t.is(ok.status, 200);
});

test('invalid label values are 422, unknown patch types 415, PUT is not modelled', async (t) => {
  const { url } = await started(t);
  const bad = await req(`${url}/api/v1/nodes/rv-1`, 'admin', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { a: 'foo,bar' } } }) });
  t.is(bad.status, 422);
  const strategic = await req(`${url}/api/v1/nodes/rv-1`, 'admin', { method: 'PATCH', headers: { 'Content-Type': 'application/strategic-merge-patch+json' }, body: '{}' });
  t.is(strategic.status, 415);
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'admin', { method: 'PUT', body: '{}' })).status, 405);
});

test('NodeRestriction: a node identity reads and labels only its own Node, within the allowed prefixes', async (t) => {
  const { url } = await started(t);
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'n1')).status, 200);
  const other = await req(`${url}/api/v1/nodes/rv-2`, 'n1');
  t.is(other.status, 403);
  t.regex(((await other.json()) as { message: string }).message, /only its own Node object/);
  const all = await req(`${url}/api/v1/nodes`, 'n1');
  t.is(all.status, 403);
  t.regex(((await all.json()) as { message: string }).message, /cannot read all nodes, only its own Node object/);
  t.is((await req(`${url}/api/v1/nodes?fieldSelector=metadata.name%3Drv-1`, 'n1')).status, 200);
  const patchOther = await req(`${url}/api/v1/nodes/rv-2`, 'n1', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { 'riseproject.dev/board': 'x' } } }) });
  t.is(patchOther.status, 403);
  t.is(((await patchOther.json()) as { message: string }).message, 'node "rv-1" is not allowed to modify node "rv-2"');
  const restricted = await req(`${url}/api/v1/nodes/rv-1`, 'n1', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { 'node-restriction.kubernetes.io/x': 'y' } } }) });
  t.is(restricted.status, 403);
  t.is(((await restricted.json()) as { message: string }).message, 'nodes "rv-1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x');
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'n1', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { 'example.kubernetes.io/x': 'y' } } }) })).status, 403);
  for (const key of ['riseproject.dev/board', 'feature.node.kubernetes.io/cpu', 'topology.kubernetes.io/zone']) {
    const ok = await req(`${url}/api/v1/nodes/rv-1`, 'n1', { method: 'PATCH', headers: merge, body: JSON.stringify({ metadata: { labels: { [key]: 'y' } } }) });
    t.is(ok.status, 200, key);
  }
});

/** Reads newline-delimited watch events until `count` arrived or the stream ends. */
type WatchLine = { type: string; object: { metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> }; code?: number } };

async function events(res: Response, count: number): Promise<WatchLine[]> {
  const out: WatchLine[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      out.push(JSON.parse(buf.slice(0, nl)) as (typeof out)[number]);
      buf = buf.slice(nl + 1);
    }
  }
  await reader.cancel();
  return out;
}

test('watch of one Node: current state as ADDED without a version, changes after a version, 410 when compacted', async (t) => {
  const { api, url } = await started(t);
  const sel = 'fieldSelector=metadata.name%3Drv-1';
  const fresh = await req(`${url}/api/v1/nodes?watch=true&${sel}`, 'n1');
  t.deepEqual((await events(fresh, 1)).map((e) => [e.type, e.object.metadata?.name]), [['ADDED', 'rv-1']]);

  const rv = api.nodes.get('rv-1')?.metadata.resourceVersion ?? '';
  const resumed = await req(`${url}/api/v1/nodes?watch=true&${sel}&resourceVersion=${rv}`, 'n1');
  api.editLabels('rv-2', { x: 'y' });
  api.editLabels('rv-1', { x: 'y' });
  t.deepEqual((await events(resumed, 1)).map((e) => [e.type, e.object.metadata?.name]), [['MODIFIED', 'rv-1']]);

  api.editLabels('rv-1', { x: 'z' });
  api.compact();
  const expired = await req(`${url}/api/v1/nodes?watch=true&${sel}&resourceVersion=${rv}`, 'n1');
  const [err] = await events(expired, 1);
  t.is(err?.type, 'ERROR');
  t.is(err?.object.code, 410);
  t.is((await req(`${url}/api/v1/nodes?watch=true`, 'n1')).status, 403);
  t.is(api.counts.watch, 4);
});

test("the kubelet's status report: status merged, labels untouched, a MODIFIED event for the Node's watchers", async (t) => {
  const { api, url } = await started(t);
  const rv = api.nodes.get('rv-1')?.metadata.resourceVersion ?? '';
  const watch = await req(`${url}/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Drv-1&resourceVersion=${rv}`, 'n1');
  api.reportStatus('rv-1', { allocatable: { 'riseproject.com/runner': '1' } });
  api.reportStatus('rv-1', { conditions: [{ type: 'Ready', status: 'True' }] });
  const [first, second] = await events(watch, 2);
  t.is(first?.type, 'MODIFIED');
  t.is(first?.object.metadata?.labels?.['team/owner'], 'ci');
  t.true(Number(second?.object.metadata?.resourceVersion) > Number(first?.object.metadata?.resourceVersion));
  const node = api.nodes.get('rv-1');
  t.deepEqual(node?.status, { allocatable: { 'riseproject.com/runner': '1' }, conditions: [{ type: 'Ready', status: 'True' }] });
  t.is(node?.metadata.labels['team/owner'], 'ci');
  t.throws(() => api.reportStatus('nope', {}), { message: /no node nope/ });
});

test('a watch ends after its timeout', async (t) => {
  const { url } = await started(t, { watchTimeoutMs: (s: number) => s * 10 });
  const res = await req(`${url}/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Drv-1&timeoutSeconds=5`, 'n1');
  const got = await events(res, 5);
  t.is(got.length, 1);
});

test('faults: 5xx, connection reset, slow answers, stop and restart on the same port', async (t) => {
  const { api, url } = await started(t);
  api.failNext(1, 503);
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'admin')).status, 503);
  api.failNext(1, 'reset');
  await t.throwsAsync(req(`${url}/api/v1/nodes/rv-1`, 'admin'));
  api.setDelay(200);
  const t0 = Date.now();
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'admin')).status, 200);
  t.true(Date.now() - t0 >= 190);
  api.setDelay(0);
  await api.stop();
  const refused = await t.throwsAsync(req(`${url}/api/v1/nodes/rv-1`, 'admin'));
  t.regex(String((refused as Error & { cause?: { code?: string } }).cause?.code), /ECONNREFUSED/);
  t.is(await api.start(), url);
  t.is((await req(`${url}/api/v1/nodes/rv-1`, 'admin')).status, 200);
});
