// spookd's virtual devices: which host gets what, socket and env names, and the env a container gets.
import test from 'ava';
import { parseConfig, type VirtualConfig } from '../../src/common/config.js';
import { virtualEnv, virtualEnvName, virtualResources, virtualSocketName } from '../../src/deviceplugin/sources/virtual.js';
import { SPOOKD_README_MAPPING, WIDGET_0001_ENV } from '../helpers/peer-examples.js';

function readme(file?: string): VirtualConfig {
  const text = file === undefined ? `deviceplugin:\n  virtual:\n${SPOOKD_README_MAPPING.replace(/^(?=.)/gm, '    ')}` : `deviceplugin:\n  virtual: { file: ${file} }\n`;
  const c = parseConfig(text, '/etc/riscv-runner-node/config.yaml', new Map([['/etc/spookd/config.yaml', { text: SPOOKD_README_MAPPING }]]));
  if (c.deviceplugin.virtual === undefined) throw new Error('no virtual section');
  return c.deviceplugin.virtual;
}

const names = (nodeName: string, hostName = nodeName): { nodeName: string; hostName: string } => ({ nodeName, hostName });

/** What each host of spookd's README gets: resource → device IDs, as its mapping lists them. */
const hosts: Array<[string, Record<string, string[]>]> = [
  ['lab1-host1', { 'skao.int/oscilloscope': ['0001', '0002'], 'skao.int/signal-generator': ['0001'] }],
  ['lab1-host2', { 'skao.int/oscilloscope': ['0001', '0002'], 'skao.int/signal-generator': ['0001'] }],
  ['lab2-host1', { 'skao.int/oscilloscope': ['0003'], 'skao.int/signal-generator': ['0002'] }],
  ['lab3-host1', {}],
];

for (const [host, expected] of hosts) {
  test(`spookd's README mapping on ${host}: the documented devices, all Healthy`, (t) => {
    const { resources, warnings } = virtualResources(readme(), names(host));
    t.deepEqual(warnings, []);
    t.deepEqual(Object.fromEntries(resources.map((r) => [r.name, r.devices.map((d) => d.ID)])), expected);
    t.true(resources.every((r) => r.kind === 'virtual' && r.devices.every((d) => d.health === 'Healthy')));
  });
}

test("spookd's README mapping on lab1-host1: sockets, env names and each device's env exactly", (t) => {
  const { resources } = virtualResources(readme(), names('lab1-host1'));
  t.deepEqual(resources, [
    {
      kind: 'virtual',
      name: 'skao.int/oscilloscope',
      socketName: 'spookd-skaoint_oscilloscope.sock',
      devices: [
        { ID: '0001', health: 'Healthy' },
        { ID: '0002', health: 'Healthy' },
      ],
      grant: { kind: 'virtual', envName: 'SKAOINT_OSCILLOSCOPE', deviceEnv: { '0001': { IP: '10.0.10.215' }, '0002': { IP: '10.0.10.218' } } },
      origin: 'deviceplugin.virtual.deviceMapping[0].devices[0]',
    },
    {
      kind: 'virtual',
      name: 'skao.int/signal-generator',
      socketName: 'spookd-skaoint_signal-generator.sock',
      devices: [{ ID: '0001', health: 'Healthy' }],
      grant: { kind: 'virtual', envName: 'SKAOINT_SIGNAL_GENERATOR', deviceEnv: { '0001': { IP: '10.10.10.80' } } },
      origin: 'deviceplugin.virtual.deviceMapping[0].devices[2]',
    },
  ]);
});

test("spookd's README mapping on lab2-host1, read from spookd's own file: the origin names that file", (t) => {
  const { resources } = virtualResources(readme('/etc/spookd/config.yaml'), names('lab2-host1'));
  t.deepEqual(
    resources.map((r) => [r.origin, r.grant]),
    [
      ['deviceplugin.virtual.file /etc/spookd/config.yaml: deviceMapping[1].devices[0]', { kind: 'virtual', envName: 'SKAOINT_OSCILLOSCOPE', deviceEnv: { '0003': { IP: '10.0.10.85' } } }],
      ['deviceplugin.virtual.file /etc/spookd/config.yaml: deviceMapping[1].devices[1]', { kind: 'virtual', envName: 'SKAOINT_SIGNAL_GENERATOR', deviceEnv: { '0002': { IP: '10.0.10.80' } } }],
    ],
  );
});

test('hosts match the node name or the host name, case-insensitively', (t) => {
  const count = (n: { nodeName: string; hostName: string }): number => virtualResources(readme(), n).resources.length;
  t.is(count(names('rv-01', 'LAB2-Host1')), 2);
  t.is(count(names('Lab1-Host2', 'rv-01')), 2);
  t.is(count(names('lab1-host', 'lab1-host10')), 0);
});

test('a device in two mappings that both list the host counts once; mappings add up', (t) => {
  const config: VirtualConfig = {
    file: undefined,
    deviceMapping: [
      { hosts: ['a'], devices: [{ resourceName: 'example.com/w', instanceID: '1', env: { IP: 'x' } }] },
      { hosts: ['b'], devices: [{ resourceName: 'example.com/w', instanceID: '9', env: {} }] },
      {
        hosts: ['A', 'c'],
        devices: [
          { resourceName: 'example.com/w', instanceID: '1', env: { IP: 'x' } },
          { resourceName: 'example.com/w', instanceID: '2', env: {} },
        ],
      },
    ],
  };
  const [w] = virtualResources(config, names('a')).resources;
  t.deepEqual(w?.devices.map((d) => d.ID), ['1', '2']);
  t.deepEqual(w?.grant, { kind: 'virtual', envName: 'EXAMPLECOM_W', deviceEnv: { '1': { IP: 'x' }, '2': {} } });
});

const naming: Array<[string, string, string]> = [
  ['example.com/widget', 'spookd-examplecom_widget.sock', 'EXAMPLECOM_WIDGET'],
  ['skao.int/signal-generator', 'spookd-skaoint_signal-generator.sock', 'SKAOINT_SIGNAL_GENERATOR'],
  ['a.b.c/Probe.v2', 'spookd-abc_Probev2.sock', 'ABC_PROBEV2'],
];

for (const [resource, socket, env] of naming) {
  test(`names for ${resource}: socket ${socket}, variables ${env}_*`, (t) => {
    t.is(virtualSocketName(resource), socket);
    t.is(virtualEnvName(resource), env);
  });
}

test("the env of spookd's README example: widget 0001 with IP and PORT, exactly", (t) => {
  const env = virtualEnv('EXAMPLECOM_WIDGET', 'example.com/widget', { '0001': { IP: '192.168.0.200', PORT: '12345' } }, ['0001']);
  t.deepEqual(env, WIDGET_0001_ENV);
  t.deepEqual(virtualEnv('EXAMPLECOM_THINGAMAJIG', 'example.com/thingamajig', { A1234: {} }, ['A1234']), {
    EXAMPLECOM_THINGAMAJIG_DEV0_ID: 'A1234',
    EXAMPLECOM_THINGAMAJIG_DEV0_TYPE: 'example.com/thingamajig',
    EXAMPLECOM_THINGAMAJIG_ID: 'A1234',
    EXAMPLECOM_THINGAMAJIG_NUM_DEVICES: '1',
    EXAMPLECOM_THINGAMAJIG_TYPE: 'example.com/thingamajig',
  });
});

test('the env for two devices: DEV0 and DEV1 in the order asked, short forms from the first', (t) => {
  const deviceEnv = { '0001': { IP: '10.0.10.215' }, '0002': { IP: '10.0.10.218' } };
  t.deepEqual(virtualEnv('SKAOINT_OSCILLOSCOPE', 'skao.int/oscilloscope', deviceEnv, ['0002', '0001']), {
    SKAOINT_OSCILLOSCOPE_NUM_DEVICES: '2',
    SKAOINT_OSCILLOSCOPE_DEV0_ID: '0002',
    SKAOINT_OSCILLOSCOPE_DEV0_TYPE: 'skao.int/oscilloscope',
    SKAOINT_OSCILLOSCOPE_DEV0_IP: '10.0.10.218',
    SKAOINT_OSCILLOSCOPE_ID: '0002',
    SKAOINT_OSCILLOSCOPE_TYPE: 'skao.int/oscilloscope',
    SKAOINT_OSCILLOSCOPE_IP: '10.0.10.218',
    SKAOINT_OSCILLOSCOPE_DEV1_ID: '0001',
    SKAOINT_OSCILLOSCOPE_DEV1_TYPE: 'skao.int/oscilloscope',
    SKAOINT_OSCILLOSCOPE_DEV1_IP: '10.0.10.215',
  });
  t.deepEqual(virtualEnv('X', 'a.b/x', {}, []), { X_NUM_DEVICES: '0' });
});
