// The deviceplugin.pci section: sriov's resourceList, inline and as its own config.json, and every problem at once.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { loadConfig, parseConfig, type Config } from '../../src/common/config.js';
import { ConfigError } from '../../src/common/errors.js';
import type { IncludedFiles } from '../../src/common/peer-config.js';
import { tempDir } from '../helpers/tmp.js';

const FILE = '/etc/riscv-runner-node/config.yaml';

function parse(text: string, included: IncludedFiles = new Map()): Config {
  return parseConfig(text, FILE, included);
}

function problemsOf(text: string, included: IncludedFiles = new Map()): string[] {
  try {
    parse(text, included);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message.split('\n').map((l) => {
      if (!l.startsWith(`config ${FILE}: `)) throw new Error(`a line that does not name the file: ${l}`);
      return l.slice(`config ${FILE}: `.length);
    });
  }
  throw new Error(`expected a ConfigError for ${text}`);
}

const pci = (list: string, extra = ''): string => `deviceplugin:\n  pci:\n${extra}    resourceList: ${list}\n`;

test('no pci section: none configured', (t) => {
  t.is(parse('deviceplugin: {}\n').deviceplugin.pci, undefined);
});

test("sriov's defaults: prefix intel.com, deviceType netDevice, topology kept, no CDI, cross-NUMA allowed, 10 s rescan", (t) => {
  const c = parse(pci('[{resourceName: intel_sriov_netdevice, selectors: {vendors: ["8086"]}}]')).deviceplugin.pci;
  t.deepEqual(c, {
    file: undefined,
    rescanSeconds: 10,
    resources: [
      {
        resourceName: 'intel_sriov_netdevice',
        resourcePrefix: 'intel.com',
        deviceType: 'netDevice',
        excludeTopology: false,
        selectors: [{ vendors: ['8086'], devices: [], drivers: [], pciAddresses: [], acpiIndexes: [], pfNames: [], rootDevices: [], linkTypes: [], needVhostNet: false }],
        additionalInfo: undefined,
        cdi: false,
        allowCrossNuma: true,
        place: 'deviceplugin.pci.resourceList[0]',
      },
    ],
  });
});

test('a section resourcePrefix, cdi and allowCrossNuma are the defaults of its entries; an entry overrides each', (t) => {
  const c = parse(
    pci('[{resourceName: a}, {resourceName: b, resourcePrefix: acme.com, cdi: false, allowCrossNuma: true}]', '    resourcePrefix: rebellions.ai\n    cdi: true\n    allowCrossNuma: false\n    rescanSeconds: 3\n'),
  ).deviceplugin.pci;
  t.deepEqual(
    c?.resources.map((r) => [r.resourcePrefix, r.resourceName, r.cdi, r.allowCrossNuma]),
    [
      ['rebellions.ai', 'a', true, false],
      ['acme.com', 'b', false, true],
    ],
  );
  t.is(c?.rescanSeconds, 3);
});

test('selectors: one object or a list, in order; pfNames and rootDevices with function ranges', (t) => {
  const c = parse(
    pci('[{resourceName: one, selectors: {drivers: [vfio-pci]}}, {resourceName: two, selectors: [{pfNames: ["netpf0#0,2-4,9"]}, {rootDevices: ["0000:86:00.0#0-1,3"], needVhostNet: true}]}]'),
  ).deviceplugin.pci;
  t.deepEqual(c?.resources[0]?.selectors.map((s) => s.drivers), [['vfio-pci']]);
  const two = c?.resources[1]?.selectors;
  t.deepEqual(two?.[0]?.pfNames, [{ of: 'netpf0', functions: [0, 2, 3, 4, 9] }]);
  t.deepEqual(two?.[1]?.rootDevices, [{ of: '0000:86:00.0', functions: [0, 1, 3] }]);
  t.true(two?.[1]?.needVhostNet);
});

test("sriov's README config (the entries served: no RDMA, vDPA or aux) reads unchanged", async (t) => {
  const { SRIOV_README_CONFIG } = await import('../helpers/peer-examples.js');
  const c = parse(`deviceplugin:\n  pci:\n    resourceList: ${JSON.stringify(JSON.parse(SRIOV_README_CONFIG).resourceList)}\n`).deviceplugin.pci;
  t.deepEqual(
    c?.resources.map((r) => `${r.resourcePrefix}/${r.resourceName} ${r.deviceType}`),
    [
      'intel.com/intel_sriov_netdevice netDevice',
      'intel.com/intel_sriov_dpdk netDevice',
      'intel.com/intel_fpga accelerator',
      'intel.com/intel_sriov_netdevice_additional_env netDevice',
      'broadcom.com/brcm_sriov_bnxt netDevice',
      'intel.com/old_selectors_syntax_example netDevice',
    ],
  );
});

// One row per rule sriov (and the kubelet) applies, plus ours: each problem names its key.
const invalid: Array<[string, string, RegExp]> = [
  ['a dot in resourceName', pci('[{resourceName: sriov.net}]'), /^deviceplugin\.pci\.resourceList\[0\]\.resourceName 'sriov\.net' may hold only letters, digits, '_' and '-'/],
  ['a slash in resourceName', pci('[{resourceName: intel.com/x}]'), /resourceName 'intel\.com\/x' may hold only .*the prefix goes in resourcePrefix/],
  ['no resourceName', pci('[{selectors: {}}]'), /resourceList\[0\]\.resourceName is missing; e\.g\. resourceName: intel_sriov_netdevice/],
  ['a name the kubelet refuses (ends in _)', pci('[{resourceName: sriov_}]'), /resourceName 'sriov_' makes intel\.com\/sriov_, which the kubelet refuses/],
  ['the same name twice under one prefix', pci('[{resourceName: a}, {resourceName: a}]'), /resourceList\[1\]\.resourceName 'a' repeats deviceplugin\.pci\.resourceList\[0\]: intel\.com\/a must be unique/],
  ['an unknown deviceType', pci('[{resourceName: a, deviceType: gpu}]'), /deviceType 'gpu' is not one of netDevice, accelerator, pci/],
  ['auxNetDevice', pci('[{resourceName: a, deviceType: auxNetDevice}]'), /deviceType 'auxNetDevice' is not supported/],
  ['isRdma', pci('[{resourceName: a, selectors: {isRdma: true}}]'), /selectors\.isRdma is not supported/],
  ['vdpaType', pci('[{resourceName: a, selectors: [{vdpaType: vhost}]}]'), /selectors\[0\]\.vdpaType is not supported/],
  ['ddpProfiles', pci('[{resourceName: a, selectors: {ddpProfiles: ["GTP"]}}]'), /selectors\.ddpProfiles is not supported/],
  ['pKeys', pci('[{resourceName: a, selectors: {pKeys: ["0x1"]}}]'), /selectors\.pKeys is not supported/],
  ['auxTypes', pci('[{resourceName: a, selectors: {auxTypes: [sf]}}]'), /selectors\.auxTypes is not supported: it belongs to deviceType auxNetDevice/],
  ['isRdma with vdpaType', pci('[{resourceName: a, selectors: {isRdma: true, vdpaType: vhost}}]'), /sets both isRdma and vdpaType/],
  ['a netDevice selector on an accelerator', pci('[{resourceName: a, deviceType: accelerator, selectors: {pfNames: [eth0]}}]'), /selectors\.pfNames applies to deviceType netDevice only, and this resource is accelerator/],
  ['a vendor with 0x', pci('[{resourceName: a, selectors: {vendors: ["0x8086"]}}]'), /vendors\[0\] '0x8086' is not a vendor ID: write 4 lower-case hex digits without 0x.*'8086'/],
  ['a vendor written as a number', pci('[{resourceName: a, selectors: {vendors: [8086]}}]'), /vendors\[0\] must be a non-empty string, not 8086 \(quote it\)/],
  ['a field that is not a list', pci('[{resourceName: a, selectors: {drivers: vfio-pci}}]'), /selectors\.drivers must be a list of strings, not 'vfio-pci' \(write \['vfio-pci'\]\)/],
  ['a short PCI address', pci('[{resourceName: a, selectors: {pciAddresses: ["03:02.0"]}}]'), /pciAddresses\[0\] '03:02\.0' is not a full PCI address: write the domain too, '0000:03:02\.0'/],
  ['a bad function range', pci('[{resourceName: a, selectors: {pfNames: ["eth0#3-1"]}}]'), /pfNames\[0\] 'eth0#3-1' has the range '3-1', which ends before it starts/],
  ['a misspelt selector', pci('[{resourceName: a, selectors: {vendor: ["8086"]}}]'), /selectors\.vendor is not a known key \(known: vendors, devices/],
  ['a misspelt key, another case', pci('[{resourceName: a, resourceprefix: acme.com}]'), /resourceprefix is not a known key; did you mean deviceplugin\.pci\.resourceList\[0\]\.resourcePrefix\?/],
  ['an additionalInfo key that is no address', pci('[{resourceName: a, additionalInfo: {"3b:02.6": {k: v}}}]'), /additionalInfo key '3b:02\.6' is not a full PCI address/],
  ['an additionalInfo value that is a number', pci('[{resourceName: a, additionalInfo: {"*": {port: 5}}}]'), /additionalInfo\.\*\.port must be a string, not 5 \(quote it\)/],
  ['a bad section prefix', pci('[]', '    resourcePrefix: Intel_Com\n'), /^deviceplugin\.pci\.resourcePrefix 'Intel_Com' is not a DNS subdomain/],
  ['rescanSeconds 0', pci('[]', '    rescanSeconds: 0\n'), /deviceplugin\.pci\.rescanSeconds 0 must be a whole number of seconds from 1 to 3600/],
  ['both file and resourceList', pci('[]', '    file: /etc/pcidp/config.json\n'), /deviceplugin\.pci has both file and resourceList; keep one/],
  ['a relative file', 'deviceplugin:\n  pci: {file: pcidp.json}\n', /deviceplugin\.pci\.file 'pcidp\.json' must be an absolute path/],
  ['CDI with a class the CDI rules refuse', pci('[{resourceName: 10G, cdi: true}]'), /resourceList\[0\]\.cdi: the CDI class '10G' must start with a letter/],
];

for (const [what, text, want] of invalid) {
  test(`invalid: ${what}`, (t) => {
    const problems = problemsOf(text);
    t.true(problems.some((p) => want.test(p)), problems.join('\n'));
  });
}

test('every problem at once, each with its key', (t) => {
  const problems = problemsOf(pci('[{resourceName: a.b, selectors: {isRdma: true}}, {resourceName: c, deviceType: x}, {resourceName: d, excludeTopology: yes}]'));
  t.deepEqual(
    problems.map((p) => p.split(' ')[0]),
    [
      'deviceplugin.pci.resourceList[0].resourceName',
      'deviceplugin.pci.resourceList[0].selectors.isRdma',
      'deviceplugin.pci.resourceList[1].deviceType',
      'deviceplugin.pci.resourceList[2].excludeTopology',
    ],
  );
});

test('sriov values that constrain nothing (isRdma: false, empty lists) are accepted', (t) => {
  const c = parse(pci('[{resourceName: a, selectors: {isRdma: false, pKeys: [], vendors: []}}]')).deviceplugin.pci;
  t.is(c?.resources.length, 1);
});

test("{file:} reads sriov's own config.json in place; problems name the file and the place in it", async (t) => {
  const etc = await tempDir(t, 'rrn-pcidp-');
  const json = path.join(etc, 'config.json');
  const config = path.join(etc, 'config.yaml');
  await writeFile(json, JSON.stringify({ resourceList: [{ resourceName: 'intel_fpga', deviceType: 'accelerator', selectors: [{ vendors: ['8086'], devices: ['0d90'] }] }] }));
  await writeFile(config, `deviceplugin:\n  pci:\n    file: ${json}\n    resourcePrefix: fpga.example.com\n`);
  const c = (await loadConfig(config, { mustExist: true })).deviceplugin.pci;
  t.is(c?.file, json);
  t.deepEqual(c?.resources.map((r) => [`${r.resourcePrefix}/${r.resourceName}`, r.place]), [['fpga.example.com/intel_fpga', `deviceplugin.pci.file ${json}: resourceList[0]`]]);

  await writeFile(json, JSON.stringify({ resourceList: [{ resourceName: 'x.y' }], extra: 1 }));
  const err = await t.throwsAsync(loadConfig(config, { mustExist: true }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', new RegExp(`deviceplugin\\.pci\\.file ${json}: resourceList\\[0\\]\\.resourceName 'x\\.y' may hold only`));
  t.regex(err?.message ?? '', new RegExp(`deviceplugin\\.pci\\.file ${json}: extra is not a known key`));

  await writeFile(config, `deviceplugin:\n  pci: {file: ${path.join(etc, 'missing.json')}}\n`);
  await t.throwsAsync(loadConfig(config, { mustExist: true }), { message: /deviceplugin\.pci\.file .*missing\.json cannot be read \(ENOENT\)/ });
});
