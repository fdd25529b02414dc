// The fake API server's ResourceSlices and ResourceClaims, checked against reference/kubelet-dra.md §3 and §9.
import test, { type ExecutionContext } from 'ava';
import { FakeApiServer } from '../fakes/apiserver.js';

const SLICES = '/apis/resource.k8s.io/v1/resourceslices';

async function started(t: ExecutionContext, options = {}) {
  const api = new FakeApiServer({ tokens: { admin: 'system:admin', n1: 'system:node:rv-1', n2: 'system:node:rv-2' }, ...options });
  const url = await api.start(0);
  t.teardown(() => api.stop());
  api.createNode('rv-1');
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { message?: string; metadata?: { name: string; resourceVersion: string }; items?: unknown[] } };
  };
  return { api, url, call };
}

function slice(nodeName: string, extra: Record<string, unknown> = {}, devices: unknown[] = [{ name: 'runner-0', attributes: { harts: { int: 4 } } }]) {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { generateName: `${nodeName}-runner.riseproject.dev-`, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: `uid-${nodeName}`, controller: true }] },
    spec: { driver: 'runner.riseproject.dev', nodeName, pool: { name: nodeName, generation: 0, resourceSliceCount: 1 }, devices, ...extra },
  };
}

test('a node creates slices for its own nodeName (generateName, Node owner reference); another nodeName is 403', async (t) => {
  const { call } = await started(t);
  const own = await call('n1', 'POST', SLICES, slice('rv-1'));
  t.is(own.status, 201);
  t.regex(own.body.metadata?.name ?? '', /^rv-1-runner\.riseproject\.dev-[a-z0-9]+$/);
  const other = await call('n1', 'POST', SLICES, slice('rv-2'));
  t.is(other.status, 403);
  t.regex(other.body.message ?? '', /can only create ResourceSlice with the same NodeName as the requesting node/);
});

test('list and watch need spec.nodeName=<own node>; more selectors are fine', async (t) => {
  const { call } = await started(t);
  await call('n1', 'POST', SLICES, slice('rv-1'));
  await call('n2', 'POST', SLICES, slice('rv-2'));
  const bare = await call('n1', 'GET', SLICES);
  t.is(bare.status, 403);
  t.regex(bare.body.message ?? '', /can only list\/watch\/deletecollection resourceslices with nodeName field selector/);
  t.is((await call('n1', 'GET', `${SLICES}?fieldSelector=spec.nodeName%3Drv-2`)).status, 403);
  const mine = await call('n1', 'GET', `${SLICES}?fieldSelector=${encodeURIComponent('spec.nodeName=rv-1,spec.driver=runner.riseproject.dev')}`);
  t.is(mine.status, 200);
  t.is(mine.body.items?.length, 1);
  t.is((await call('n1', 'GET', `${SLICES}?watch=true&fieldSelector=spec.nodeName%3Drv-2`)).status, 403);
  t.is((await call('admin', 'GET', SLICES)).body.items?.length, 2);
});

const invalid: Array<[string, unknown[], RegExp]> = [
  ['an attribute with no value (client-node drops a plain int key)', [{ name: 'd', attributes: { harts: {} } }], /exactly one value must be specified/],
  ['an attribute with two values', [{ name: 'd', attributes: { harts: { int: 1, string: '1' } } }], /exactly one value must be specified/],
  ['a device name that is not a DNS label', [{ name: 'Runner_0' }], /spec\.devices\[0\]\.name: Invalid value/],
  ['a string over 64 characters', [{ name: 'd', attributes: { board: { string: 'x'.repeat(65) } } }], /may not be more than 64 bytes/],
  ['an attribute name with "-"', [{ name: 'd', attributes: { 'isa-v': { bool: true } } }], /C identifier/],
  ['an attribute name over 32 characters', [{ name: 'd', attributes: { [`a${'x'.repeat(32)}`]: { bool: true } } }], /C identifier/],
  ['33 attributes and capacities', [{ name: 'd', attributes: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`a${i}`, { bool: true }])), capacity: { memory: { value: '1Gi' } } }], /at most 32 attributes and capacities/],
  ['129 devices', Array.from({ length: 129 }, (_, i) => ({ name: `d${i}` })), /must have at most 128 items/],
  ['two devices of one name', [{ name: 'd' }, { name: 'd' }], /Duplicate value/],
  ['a capacity that is not a quantity', [{ name: 'd', capacity: { memory: { value: 'lots' } } }], /capacity\[memory\]\.value: Invalid value/],
];
for (const [what, devices, message] of invalid) {
  test(`422 for ${what}`, async (t) => {
    const { call } = await started(t);
    const res = await call('n1', 'POST', SLICES, slice('rv-1', {}, devices));
    t.is(res.status, 422);
    t.regex(res.body.message ?? '', message);
  });
}

test('422 for a pool with resourceSliceCount 0, and for two node selections at once', async (t) => {
  const { call } = await started(t);
  t.is((await call('n1', 'POST', SLICES, slice('rv-1', { pool: { name: 'rv-1', generation: 0, resourceSliceCount: 0 } }))).status, 422);
  t.is((await call('n1', 'POST', SLICES, slice('rv-1', { allNodes: true }))).status, 422);
  t.is((await call('n1', 'POST', SLICES, slice('rv-1', {}, [{ name: 'd', attributes: { v: { version: '1.0.0' }, s: { string: 'x' }, b: { bool: false } }, capacity: { memory: { value: '16Gi' } } }]))).status, 201);
});

test("update: a stale resourceVersion is 409, an immutable field 422; another node's slice is 403 to get, update and delete", async (t) => {
  const { call } = await started(t);
  const created = (await call('n1', 'POST', SLICES, slice('rv-1'))).body as ReturnType<typeof slice> & { metadata: { name: string; resourceVersion: string } };
  const path = `${SLICES}/${created.metadata.name}`;
  const next = { ...created, spec: { ...created.spec, pool: { ...created.spec.pool, generation: 1 } } };
  t.is((await call('n1', 'PUT', path, next)).status, 200);
  t.is((await call('n1', 'PUT', path, next)).status, 409, 'the same resourceVersion again is stale');
  const fresh = (await call('n1', 'GET', path)).body as typeof next;
  t.is((await call('n1', 'PUT', path, { ...fresh, spec: { ...fresh.spec, driver: 'other.example.com' } })).status, 422);
  t.is((await call('n2', 'GET', path)).status, 403);
  t.is((await call('n2', 'PUT', path, fresh)).status, 403);
  t.is((await call('n2', 'DELETE', path)).status, 403);
  t.is((await call('n1', 'DELETE', path)).status, 200);
  t.is((await call('admin', 'GET', path)).status, 404);
});

test('right after a create, the node authorizer may not know the slice yet: a short-lived 403', async (t) => {
  const { call } = await started(t, { graphLagMs: 300 });
  const created = (await call('n1', 'POST', SLICES, slice('rv-1'))).body;
  t.is((await call('n1', 'GET', `${SLICES}/${created.metadata?.name ?? ''}`)).status, 403);
  await new Promise((r) => setTimeout(r, 350));
  t.is((await call('n1', 'GET', `${SLICES}/${created.metadata?.name ?? ''}`)).status, 200);
});

test('watch: current state as ADDED, then DELETED for a deletecollection by field selector; other nodes unaffected', async (t) => {
  const { api, url, call } = await started(t);
  await call('n1', 'POST', SLICES, slice('rv-1'));
  await call('n2', 'POST', SLICES, slice('rv-2'));
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const res = await fetch(`${url}${SLICES}?watch=true&fieldSelector=spec.nodeName%3Drv-1`, { headers: { Authorization: 'Bearer n1' }, signal: controller.signal });
  const reader = res.body!.getReader();
  const events: Array<{ type: string; object: { spec: { nodeName: string } } }> = [];
  let buffered = '';
  const next = async (): Promise<void> => {
    while (!buffered.includes('\n')) buffered += new TextDecoder().decode((await reader.read()).value);
    const line = buffered.slice(0, buffered.indexOf('\n'));
    buffered = buffered.slice(line.length + 1);
    events.push(JSON.parse(line) as (typeof events)[number]);
  };
  await next();
  t.is((await call('n1', 'DELETE', `${SLICES}?fieldSelector=spec.nodeName%3Drv-1`)).status, 200);
  await next();
  t.deepEqual(events.map((e) => [e.type, e.object.spec.nodeName]), [['ADDED', 'rv-1'], ['DELETED', 'rv-1']]);
  t.is(api.resource.slicesOf('rv-2').length, 1);
  t.is((await call('n1', 'DELETE', SLICES)).status, 403, 'deletecollection needs the selector too');
});

test('claims: a node may GET only a claim a pod on it references; no list; the claim as stored', async (t) => {
  const { api, call } = await started(t);
  api.resource.putClaim({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name: 'runner-abc', namespace: 'ci', uid: 'claim-1' },
    spec: {},
    status: { allocation: { devices: { results: [{ request: 'runner', driver: 'runner.riseproject.dev', pool: 'rv-1', device: 'runner-0' }] } } },
  });
  const path = '/apis/resource.k8s.io/v1/namespaces/ci/resourceclaims/runner-abc';
  t.is((await call('n1', 'GET', path)).status, 403, 'no pod on rv-1 uses it yet');
  api.resource.addPod({ namespace: 'ci', name: 'runner', uid: 'pod-1', nodeName: 'rv-1', claims: ['runner-abc'] });
  const got = await call('n1', 'GET', path);
  t.is(got.status, 200);
  t.like(got.body, { metadata: { uid: 'claim-1' } });
  t.is((await call('n2', 'GET', path)).status, 403);
  t.is((await call('n1', 'GET', '/apis/resource.k8s.io/v1/namespaces/ci/resourceclaims')).status, 403);
  api.resource.deleteClaim('ci', 'runner-abc');
  t.is((await call('n1', 'GET', path)).status, 404);
});
