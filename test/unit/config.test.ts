// Config parsing and validation: defaults, every key, and errors that name file and key.
import test from 'ava';
import { defaultConfig, parseConfig } from '../../src/common/config.js';
import { ConfigError } from '../../src/common/errors.js';

const FILE = '/etc/riscv-runner-node/config.yaml';

test('an empty file means every default', (t) => {
  t.deepEqual(parseConfig('', FILE), defaultConfig());
  t.deepEqual(parseConfig('# only comments\n', FILE), defaultConfig());
});

test('documented defaults', (t) => {
  const c = defaultConfig();
  t.is(c.deviceplugin.resourceName, 'riseproject.com/runner');
  t.is(c.deviceplugin.deviceCount, 1);
  t.is(c.deviceplugin.socketName, 'rise-riscv-runner.sock');
  t.is(c.deviceplugin.maintenanceFile, '/etc/riscv-runner-node/maintenance');
  t.is(c.logLevel, 'info');
});

test('valid keys are read', (t) => {
  const c = parseConfig(
    [
      'logLevel: debug',
      'nodeName: rv-01',
      'deviceplugin:',
      '  resourceName: example.com/slot',
      '  deviceCount: 4',
      '  socketName: slot.sock',
      '  maintenanceFile: /run/drain',
      '  allocateEnv: { RISE_BOARD: pioneer }',
      'labeller:',
      '  boardMap: { "vendor,board": my-board }',
      '  labels: { isa: false, devicetree: true }',
      '  devicetreeNodes: ["/soc/gpu@0"]',
      '  rediscoverSeconds: 60',
    ].join('\n'),
    FILE,
  );
  t.is(c.logLevel, 'debug');
  t.is(c.nodeName, 'rv-01');
  t.deepEqual(c.deviceplugin, {
    resourceName: 'example.com/slot',
    deviceCount: 4,
    socketName: 'slot.sock',
    maintenanceFile: '/run/drain',
    allocateEnv: { RISE_BOARD: 'pioneer' },
    virtual: undefined,
    dev: undefined,
    pci: undefined,
    metrics: undefined,
  });
  t.deepEqual(c.labeller.boardMap, { 'vendor,board': 'my-board' });
  t.false(c.labeller.labels.isa);
  t.true(c.labeller.labels.devicetree);
  t.true(c.labeller.labels.board);
  t.deepEqual(c.labeller.devicetreeNodes, ['/soc/gpu@0']);
  t.is(c.labeller.rediscoverSeconds, 60);
});

const invalid: Array<[string, string, RegExp]> = [
  ['resource name with a space', 'deviceplugin:\n  resourceName: foo bar\n', /deviceplugin\.resourceName 'foo bar' is not a valid extended resource name/],
  ['resource name without domain', 'deviceplugin:\n  resourceName: runner\n', /deviceplugin\.resourceName 'runner'.*domain\/name/],
  ['resource name in kubernetes.io', 'deviceplugin:\n  resourceName: kubernetes.io/runner\n', /reserved for native resources/],
  ['device count 0', 'deviceplugin:\n  deviceCount: 0\n', /deviceplugin\.deviceCount 0 must be at least 1/],
  ['device count fractional', 'deviceplugin:\n  deviceCount: 1.5\n', /deviceplugin\.deviceCount 1\.5 must be a whole number/],
  ['device count as text', 'deviceplugin:\n  deviceCount: two\n', /deviceplugin\.deviceCount 'two' must be a whole number/],
  ['socket name with slash', 'deviceplugin:\n  socketName: a/b.sock\n', /deviceplugin\.socketName 'a\/b\.sock' must be a plain file name/],
  ['socket name kubelet.sock', 'deviceplugin:\n  socketName: kubelet.sock\n', /must not be 'kubelet\.sock'/],
  ['relative maintenance file', 'deviceplugin:\n  maintenanceFile: drain\n', /deviceplugin\.maintenanceFile 'drain' must be an absolute path/],
  ['bad env name', 'deviceplugin:\n  allocateEnv: { "1X": y }\n', /deviceplugin\.allocateEnv key '1X' is not a valid environment variable name/],
  ['env value not a string', 'deviceplugin:\n  allocateEnv: { X: 1 }\n', /deviceplugin\.allocateEnv\.X must be a string, not 1 \(quote it\)/],
  ['typo in a key', 'deviceplugin:\n  devicecount: 2\n', /deviceplugin\.devicecount is not a known key; did you mean deviceplugin\.deviceCount\?/],
  ['unknown top key', 'foo: 1\n', /foo is not a known key \(known: /],
  ['log level', 'logLevel: loud\n', /logLevel 'loud' is not one of error, warn, info, debug/],
  ['node name', 'nodeName: RV_01\n', /nodeName 'RV_01' is not a valid Node name/],
  ['board map value', 'labeller:\n  boardMap: { "a,b": "-bad-" }\n', /labeller\.boardMap\.a,b '-bad-' is not a valid label value/],
  ['label family not boolean', 'labeller:\n  labels: { isa: "yes" }\n', /labeller\.labels\.isa must be true or false, not 'yes'/],
  ['unknown label family', 'labeller:\n  labels: { gpu: true }\n', /labeller\.labels\.gpu is not a known key/],
  ['section not a mapping', 'deviceplugin: 3\n', /deviceplugin must be a mapping, not 3/],
  ['top level not a mapping', '- a\n- b\n', /must be a YAML mapping/],
  ['YAML syntax', 'deviceplugin:\n  resourceName: [unclosed\n', /is not valid YAML at line \d+, column \d+/],
  ['duplicate key', 'logLevel: info\nlogLevel: debug\n', /is not valid YAML/],
  ['board names', 'labeller:\n  boardNames: rise\n', /labeller\.boardNames 'rise' is not one of original, fleet/],
  ['hart-ID triple with a typo', 'labeller:\n  boardMap: { "0x710:0x1": k }\n', /labeller\.boardMap key '0x710:0x1' is not a hart-ID triple: write mvendorid:marchid:mimpid in hex/],
  ['devicetree node with a slash inside a name', 'labeller:\n  devicetreeNodes: ["soc/gpu"]\n', /labeller\.devicetreeNodes must be a list of devicetree node paths such as "\/soc\/gpu@0" or node names such as gpu/],
  ['devicetree node path climbing out', 'labeller:\n  devicetreeNodes: ["/soc/../.."]\n', /labeller\.devicetreeNodes must be a list/],
  ['cpu family not boolean', 'labeller:\n  labels: { cpu: 1 }\n', /labeller\.labels\.cpu must be true or false/],
];

for (const [name, text, expected] of invalid) {
  test(`invalid: ${name}`, (t) => {
    const err = t.throws(() => parseConfig(text, FILE), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', expected);
    t.true(err?.message.startsWith(`config ${FILE}: `), 'every line names the file');
    t.is(err?.exitCode, 78);
  });
}

test('all problems are reported at once, one line each', (t) => {
  const err = t.throws(() => parseConfig('deviceplugin:\n  deviceCount: 0\n  resourceName: x\n', FILE), { instanceOf: ConfigError });
  const lines = err?.message.split('\n') ?? [];
  t.is(lines.length, 2);
  t.true(lines.every((l) => l.startsWith(`config ${FILE}: deviceplugin.`)));
});

test('labeller: board names, hart-ID keys, node names and the cpu family are read', (t) => {
  const c = parseConfig(
    [
      'labeller:',
      '  boardNames: fleet',
      '  boardMap: { "0x710:0x8000000058000002:0x33d8a600": k3, "sophgo,mango": cloudv10x-pioneer }',
      '  devicetreeNodes: [gpu, pwm-fan, "gpu@0", "/soc/npu@1"]',
      '  labels: { cpu: false }',
    ].join('\n'),
    FILE,
  );
  t.is(c.labeller.boardNames, 'fleet');
  t.deepEqual(c.labeller.boardMap, { '0x710:0x8000000058000002:0x33d8a600': 'k3', 'sophgo,mango': 'cloudv10x-pioneer' });
  t.deepEqual(c.labeller.devicetreeNodes, ['gpu', 'pwm-fan', 'gpu@0', '/soc/npu@1']);
  t.false(c.labeller.labels.cpu);
  t.is(defaultConfig().labeller.boardNames, 'original');
  t.true(defaultConfig().labeller.labels.cpu);
});

test('a YAML syntax error shows the line the parser stopped at and the one before it', (t) => {
  const text = 'labeller:\n  boardMap: { "a,b": x\n  labels: { isa: false }\nlogLevel: info\n';
  const err = t.throws(() => parseConfig(text, FILE), { instanceOf: ConfigError });
  const lines = err?.message.split('\n') ?? [];
  t.regex(lines[0] ?? '', /^config \/etc\/riscv-runner-node\/config\.yaml: is not valid YAML at line (\d+), column (\d+): /);
  const line = Number(/at line (\d+)/.exec(lines[0] ?? '')?.[1]);
  const source = text.split('\n');
  t.is(lines[1], `  ${line - 1} | ${source[line - 2] ?? ''}`);
  t.is(lines[2], `  ${line} | ${source[line - 1] ?? ''}`);
  t.regex(lines[3] ?? '', /^ {2} {1} \| *\^$/);
});

test('a YAML error on the first line shows that line alone', (t) => {
  const err = t.throws(() => parseConfig('logLevel: [\n', FILE), { instanceOf: ConfigError });
  const lines = err?.message.split('\n') ?? [];
  t.true(lines.length >= 3, err?.message);
  t.false(lines.some((l) => / 0 \| /.test(l)));
});
