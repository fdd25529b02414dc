// Which kubeconfig the labeller uses: the one order the README and docs/operations.md state.
import test from 'ava';
import { chooseKubeconfig, type KubeconfigChoice } from '../../src/labeller/node-api.js';

const base: KubeconfigChoice = {
  flag: undefined,
  fromConfig: undefined,
  kubeletKubeconfig: '/etc/kubernetes/kubelet.conf',
  ownKubeconfig: '/etc/riscv-runner-node/kubeconfig',
  exists: () => true,
};

const table: Array<[string, Partial<KubeconfigChoice>, string]> = [
  ['--kubeconfig (or $KUBECONFIG) first', { flag: '/a', fromConfig: '/b' }, '/a'],
  ['$KUBECONFIG listing several files: its first', { flag: ':/a:/c', fromConfig: '/b' }, '/a'],
  ['then labeller.kubeconfig, even with the kubelet\'s present', { fromConfig: '/b' }, '/b'],
  ["then the kubelet's, if it exists", {}, '/etc/kubernetes/kubelet.conf'],
  ['then our own, waited for if absent', { exists: () => false }, '/etc/riscv-runner-node/kubeconfig'],
];
for (const [name, choice, expected] of table) {
  test(`kubeconfig order: ${name}`, (t) => {
    t.is(chooseKubeconfig({ ...base, ...choice }), expected);
  });
}
