// The label patch: only owned keys, null for owned keys no longer discovered, nothing when in sync.
import test from 'ava';
import { OWNED_ANNOTATION, planLabels, unlabelPlan, type NodeView } from '../../src/labeller/reconcile.js';

function node(labels: Record<string, string>, owned?: string): NodeView {
  return { name: 'rv-1', resourceVersion: '1', labels, annotations: owned === undefined ? {} : { [OWNED_ANNOTATION]: owned } };
}

const desired = { 'riseproject.dev/board': 'scw-em-rv1', 'riseproject.dev/harts': '4' };

test('a fresh node gets every label and the ownership record', (t) => {
  const plan = planLabels(node({ 'kubernetes.io/hostname': 'rv-1' }), desired);
  t.deepEqual(plan.patch, {
    metadata: {
      labels: { 'riseproject.dev/board': 'scw-em-rv1', 'riseproject.dev/harts': '4' },
      annotations: { [OWNED_ANNOTATION]: 'riseproject.dev/board,riseproject.dev/harts' },
    },
  });
});

test('in sync: no patch at all', (t) => {
  const n = node({ ...desired, 'team/foo': 'bar' }, 'riseproject.dev/board,riseproject.dev/harts');
  t.is(planLabels(n, desired).patch, undefined);
});

test('an owned label no longer discovered is deleted with null; foreign labels are never in the patch', (t) => {
  const n = node({ ...desired, 'riseproject.dev/uarch': 'old', 'riseproject.dev/foreign': 'x', 'team/foo': 'bar' },
    'riseproject.dev/board,riseproject.dev/harts,riseproject.dev/uarch');
  const plan = planLabels(n, desired);
  t.deepEqual(plan.patch?.metadata.labels, { 'riseproject.dev/uarch': null });
  t.deepEqual(plan.removed, ['riseproject.dev/uarch']);
  t.deepEqual(plan.patch?.metadata.annotations, { [OWNED_ANNOTATION]: 'riseproject.dev/board,riseproject.dev/harts' });
});

test('an owned label edited or deleted by someone else is put back', (t) => {
  const n = node({ 'riseproject.dev/board': 'wrong' }, 'riseproject.dev/board,riseproject.dev/harts');
  const plan = planLabels(n, desired);
  t.deepEqual(plan.patch, { metadata: { labels: { 'riseproject.dev/board': 'scw-em-rv1', 'riseproject.dev/harts': '4' } } });
});

test('an owned key already gone only updates the record', (t) => {
  const n = node({ ...desired }, 'riseproject.dev/board,riseproject.dev/harts,riseproject.dev/gone');
  t.deepEqual(planLabels(n, desired).patch, { metadata: { annotations: { [OWNED_ANNOTATION]: 'riseproject.dev/board,riseproject.dev/harts' } } });
});

test('unlabel: owned labels still there and the record go; foreign labels and owned keys already gone are not in the patch', (t) => {
  const n = node({ ...desired, 'riseproject.dev/foreign': 'x', 'team/foo': 'bar' }, 'riseproject.dev/board,riseproject.dev/harts,riseproject.dev/gone');
  t.deepEqual(unlabelPlan(n), {
    patch: { metadata: { labels: { 'riseproject.dev/board': null, 'riseproject.dev/harts': null }, annotations: { [OWNED_ANNOTATION]: null } } },
    removed: ['riseproject.dev/board', 'riseproject.dev/harts'],
  });
});

test('unlabel: a record with no labels left removes only the record; neither means nothing to do', (t) => {
  t.deepEqual(unlabelPlan(node({ 'team/foo': 'bar' }, 'riseproject.dev/board')), {
    patch: { metadata: { annotations: { [OWNED_ANNOTATION]: null } } },
    removed: [],
  });
  t.is(unlabelPlan(node({ ...desired })), undefined);
});
