// Which Node the labeller works on: the kubelet's client certificate names it; a configured name that differs is refused.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { chooseNodeName, nodeOfCertificate } from '../../src/labeller/node-identity.js';

const pki = path.resolve('test/fixtures/pki');
const read = (file: string): string => readFileSync(path.join(pki, file), 'utf8');

const certificates: Array<[string, () => string, string | undefined]> = [
  ["the kubelet's client certificate (O=system:nodes, CN=system:node:rv-01)", () => read('kubelet-rv-01.crt'), 'rv-01'],
  ['certificate and key in one file, as kubelet-client-current.pem', () => read('kubelet-rv-01.crt') + read('kubelet-rv-01.key'), 'rv-01'],
  ['key first, then the certificate', () => read('kubelet-rv-01.key') + read('kubelet-rv-01.crt'), 'rv-01'],
  ["an administrator's certificate", () => read('admin.crt'), undefined],
  ['CN=system:node:rv-01 outside the system:nodes group', () => read('not-a-node.crt'), undefined],
  ['a key alone', () => read('kubelet-rv-01.key'), undefined],
  ['a damaged certificate', () => read('kubelet-rv-01.crt').replace(/\n[A-Za-z0-9+/]{20}/, '\n'), undefined],
  ['not PEM at all', () => 'hello', undefined],
];
for (const [name, pem, expected] of certificates) {
  test(`node of certificate: ${name}`, (t) => {
    t.is(nodeOfCertificate(pem()), expected);
  });
}

test('no configured name: the credentials name the Node, else the host name lowercased', (t) => {
  t.deepEqual(chooseNodeName(undefined, 'rv-01', 'Some-Host'), { name: 'rv-01', from: 'credentials' });
  t.deepEqual(chooseNodeName(undefined, undefined, 'RV-01'), { name: 'rv-01', from: 'hostname' });
});

test('a configured name is used when the credentials agree or name no Node', (t) => {
  t.deepEqual(chooseNodeName('rv-01', 'rv-01', 'host'), { name: 'rv-01', from: 'configured' });
  t.deepEqual(chooseNodeName('rv-01', undefined, 'host'), { name: 'rv-01', from: 'configured' });
});

test('a configured name that differs from the credentials says exactly that', (t) => {
  t.deepEqual(chooseNodeName('x', 'y', 'host'), { problem: "configured node 'x' but these credentials are node 'y''s", credentialsNode: 'y' });
});
