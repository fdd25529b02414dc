// GetPreferredAllocation for PCI pools: fewest NUMA nodes, must_include first, allowCrossNuma false refuses what cannot fit.
import test from 'ava';
import { preferredAllocation } from '../../src/deviceplugin/allocation.js';
import type { Device, ResourceSpec } from '../../src/deviceplugin/resource.js';

/** A pool of devices "<node>.<n>" on the nodes given ("-" for no topology). */
function pool(layout: Record<string, number>, allowCrossNuma = true, kind: 'pci' | 'dev' = 'pci'): ResourceSpec {
  const devices: Device[] = Object.entries(layout).flatMap(([node, n]) =>
    Array.from({ length: n }, (_, i) => (node === '-' ? { ID: `-.${i}`, health: 'Healthy' as const } : { ID: `${node}.${i}`, health: 'Healthy' as const, numaNodes: [Number(node)] })),
  );
  return {
    kind,
    name: 'rebellions.ai/ATOM',
    socketName: 'x.sock',
    devices,
    grant: kind === 'pci' ? { kind: 'pci', envName: 'X', devices: {}, cdiKind: undefined, allowCrossNuma } : { kind: 'deviceNodes', paths: [] },
    origin: 'test',
  };
}
const ids = (spec: ResourceSpec): string[] => spec.devices.map((d) => d.ID);

const cases: Array<[string, ResourceSpec, string[] | undefined, string[], number, string[] | RegExp]> = [
  ['fits on one node: the node that fits most tightly', pool({ 0: 4, 1: 2 }), undefined, [], 2, ['1.0', '1.1']],
  ['fits only on the bigger node', pool({ 0: 4, 1: 2 }), undefined, [], 3, ['0.0', '0.1', '0.2']],
  ['cannot fit on one: fewest nodes, the biggest first', pool({ 0: 2, 1: 3, 2: 1 }), undefined, [], 5, ['1.0', '1.1', '1.2', '0.0', '0.1']],
  ['must_include first, then its own node', pool({ 0: 3, 1: 3 }), undefined, ['1.2'], 3, ['1.2', '1.0', '1.1']],
  ['must_include on two nodes: both kept, filled from them', pool({ 0: 3, 1: 3, 2: 3 }), undefined, ['0.0', '2.0'], 3, ['0.0', '2.0', '0.1']],
  ['only the available ones are picked', pool({ 0: 4, 1: 2 }), ['0.0', '0.3', '1.1'], [], 2, ['0.0', '0.3']],
  ['no topology: the kubelet\'s order', pool({ '-': 4 }), ['-.3', '-.1', '-.0', '-.2'], [], 2, ['-.3', '-.1']],
  ['devices without topology come last', pool({ 0: 1, '-': 2 }), undefined, [], 2, ['0.0', '-.0']],
  ['allowCrossNuma false, fits: as usual', pool({ 0: 2, 1: 3 }, false), undefined, [], 3, ['1.0', '1.1', '1.2']],
  ['allowCrossNuma false, cannot fit: refused with the counts', pool({ 0: 2, 1: 3 }, false), undefined, [], 4, /^4 devices of rebellions\.ai\/ATOM do not fit on one NUMA node \(available node 0: 2, node 1: 3\) and allowCrossNuma is false/],
  ['allowCrossNuma false, must_include forces a second node', pool({ 0: 2, 1: 3 }, false), undefined, ['0.0'], 3, /3 devices .*, 1 of them fixed by the kubelet do not fit on one NUMA node/],
  ['other kinds: must_include, then the available order', pool({ '-': 3 }, true, 'dev'), ['-.2', '-.0', '-.1'], ['-.1'], 2, ['-.1', '-.2']],
];

for (const [what, spec, available, must, size, want] of cases) {
  test(`preferred: ${what}`, (t) => {
    const result = preferredAllocation(spec, available ?? ids(spec), must, size);
    if (want instanceof RegExp) {
      t.false(result.ok);
      if (!result.ok) t.regex(result.message, want);
    } else {
      t.deepEqual(result, { ok: true, deviceIDs: want });
    }
  });
}
