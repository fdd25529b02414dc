// The kube-state-metrics stand-in against what kube-state-metrics v2 serves: series names, label
// sanitising, the label allowlist, a format promtool accepts, and allocatable that follows a
// real device plugin through the kubelet stand-in.
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeKubeStateMetrics, ksmSanitize, kubeletAllocatable } from '../fakes/kube-state-metrics.js';
import { RESOURCE, startHarness } from '../helpers/plugin-harness.js';
import { promtool } from '../helpers/promtool.js';

for (const [input, output] of [
  ['riseproject.dev/board', 'riseproject_dev_board'],
  ['riseproject.com/runner', 'riseproject_com_runner'],
  ['smarter-devices/ttyUSB0', 'smarter_devices_ttyUSB0'],
  ['kubernetes.io/hostname', 'kubernetes_io_hostname'],
] as const) {
  test(`ksmSanitize(${input}) is ${output}`, (t) => t.is(ksmSanitize(input), output));
}

test('serves kube_node_labels with only allowlisted keys and kube_node_status_allocatable per extended resource, over HTTP', async (t) => {
  const api = new FakeApiServer();
  api.createNode('rv-02', { 'kubernetes.io/hostname': 'rv-02' });
  api.createNode('rv-01', { 'riseproject.dev/board': 'scw-em-rv1', 'riseproject.dev/harts': '4', 'team.example/owner': 'c"i' });
  const allocatable: Record<string, Record<string, number>> = { 'rv-01': { [RESOURCE]: 1, 'example.com/oscilloscope': 2 } };
  const ksm = new FakeKubeStateMetrics({ api, allocatable: (node) => allocatable[node], nodeLabelsAllowlist: ['riseproject.dev/board', 'team.example/owner'] });
  const url = await ksm.start();
  t.teardown(() => ksm.stop());
  const response = await fetch(url);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const body = await response.text();
  t.is(
    body,
    [
      '# HELP kube_node_labels Kubernetes labels converted to Prometheus labels.',
      '# TYPE kube_node_labels gauge',
      'kube_node_labels{node="rv-01",label_riseproject_dev_board="scw-em-rv1",label_team_example_owner="c\\"i"} 1',
      'kube_node_labels{node="rv-02"} 1',
      '# HELP kube_node_status_allocatable The allocatable for different resources of a node that are available for scheduling.',
      '# TYPE kube_node_status_allocatable gauge',
      'kube_node_status_allocatable{node="rv-01",resource="example_com_oscilloscope",unit="integer"} 2',
      'kube_node_status_allocatable{node="rv-01",resource="riseproject_com_runner",unit="integer"} 1',
      '',
    ].join('\n'),
  );
  const lint = await promtool(['check', 'metrics'], { input: body });
  t.is(lint.code, 0, lint.output);
  t.is((await fetch(url.replace('/metrics', '/'))).status, 404);
});

test('allocatable follows the device plugin: 1 while registered and healthy, 0 in maintenance and once the plugin has gone', async (t) => {
  const h = await startHarness(t);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  t.deepEqual(kubeletAllocatable(h.kubelet), { [RESOURCE]: 1 });
  await mkdir(path.dirname(h.config.maintenanceFile), { recursive: true });
  await writeFile(h.config.maintenanceFile, 'test\n');
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 0, 10_000, 'maintenance');
  t.deepEqual(kubeletAllocatable(h.kubelet), { [RESOURCE]: 0 });
  await unlink(h.config.maintenanceFile);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'maintenance off');
  await h.stopPlugin();
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 0, 10_000, 'stream end');
  // The resource stays on the Node at 0, as the kubelet keeps it.
  t.deepEqual(kubeletAllocatable(h.kubelet), { [RESOURCE]: 0 });
});
