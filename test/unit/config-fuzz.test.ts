// Random config documents of the three schemas (runner keys, virtual, dev): a valid Config or a ConfigError naming the file, nothing else.
import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../src/common/config.js';
import { ConfigError } from '../../src/common/errors.js';
import { extendedResourceNameProblem } from '../../src/common/labels.js';
import { devMatchProblem, devPrefixProblem, MAX_SHARES, type IncludedFiles } from '../../src/common/peer-config.js';
import { devResources } from '../../src/deviceplugin/sources/dev.js';
import { virtualResources } from '../../src/deviceplugin/sources/virtual.js';

const FILE = '/etc/riscv-runner-node/config.yaml';
const SPOOKD_FILE = '/etc/spookd/config.yaml';
const SMARTER_FILE = '/etc/smarter-device-manager/conf.yaml';

// Scalars near the edges each key checks: valid and broken names, RE2-only syntax, numbers as text.
const word = fc.constantFrom(
  'example.com/widget', 'skao.int/oscilloscope', 'riseproject.com/runner', 'kubernetes.io/x', 'a b/c', 'noslash', `x.io/${'n'.repeat(64)}`,
  '0001', 'A1234', '', ' ', 'lab1-host1', 'LAB1-HOST1', 'rv-01', 'smarter-devices', 'Bad_Prefix', 'devices.example.org',
  '^video[0-9]*$', 'video', '^snd$', '(', '[', '^tty\\z', '[[:digit:]]', '(?P<n>x)', '(?i)^ttyusb', '(?U)a', '[]a]', '.*', '\\', '\\Atty',
  'IP', 'PORT', 'ID', 'NUM_DEVICES', 'DEV0_X', 'A=B', '__proto__', 'constructor', 'toString', '10.0.10.215', 'yes', 'null', '~', '12345',
  'debug', 'loud', 'runner.sock', 'kubelet.sock', 'a/b.sock', '/run/drain', 'drain', SPOOKD_FILE, SMARTER_FILE, 'relative.yaml', '/nonexistent.yaml',
);
const num = fc.oneof(fc.integer({ min: -5, max: 1100 }), fc.constantFrom(0, 1, 10, 1.5, -1, 1e9, Number.MAX_SAFE_INTEGER, 1e300));
const scalar = fc.oneof(word, num, fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }));

const junk: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(word, tie('value'), { maxKeys: 3 })),
})).value;

/** Mostly the right key, sometimes a typo or a stranger, so did-you-mean and unknown keys run too. */
function key(k: string): fc.Arbitrary<string> {
  return fc.oneof({ weight: 40, arbitrary: fc.constant(k) }, { weight: 1, arbitrary: fc.constant(k.toLowerCase()) }, { weight: 1, arbitrary: word });
}

/** Mostly a value the key accepts, now and then anything at all. */
function val(good: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 25, arbitrary: good }, { weight: 1, arbitrary: junk });
}

function obj(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const entries = Object.entries(fields).map(([k, v]) => fc.option(fc.tuple(key(k), val(v)), { nil: undefined, freq: 3 }));
  return val(fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter((p): p is [string, unknown] => p !== undefined))));
}

const list = (item: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => val(fc.array(item, { maxLength: 4 }));
const envMap = val(fc.dictionary(fc.constantFrom('IP', 'PORT', 'RISE_BOARD', 'X_1'), val(fc.constantFrom('10.0.10.215', '12345', 'pioneer', '')), { maxKeys: 3 }));
const pick = (...values: unknown[]): fc.Arbitrary<unknown> => fc.constantFrom(...values);

const virtualDevice = obj({
  resourceName: pick('example.com/widget', 'skao.int/oscilloscope', 'skao.int/signal-generator'),
  instanceID: pick('0001', '0002', 'A1234'),
  env: envMap,
});
const deviceMapping = list(obj({ hosts: list(pick('lab1-host1', 'LAB1-HOST1', 'rv-01', 'lab2-host1')), devices: list(virtualDevice) }));
const spookdDoc = obj({ deviceMapping });
const smarterList = list(obj({ devicematch: pick('^video[0-9]*$', 'video', '^snd$', '(?i)^ttyusb', 'tty', '^gpiomem$'), nummaxdevices: fc.integer({ min: 0, max: 40 }) }));

const virtual = fc.oneof(obj({ deviceMapping }), obj({ file: pick(SPOOKD_FILE) }));
const dev = fc.oneof(obj({ prefix: pick('smarter-devices', 'devices.example.org'), devices: smarterList }), obj({ file: pick(SMARTER_FILE), prefix: pick('smarter-devices') }));
const deviceplugin = obj({
  resourceName: pick('example.com/slot', 'riseproject.com/runner'),
  deviceCount: fc.integer({ min: 1, max: 8 }),
  socketName: pick('slot.sock'),
  maintenanceFile: pick('/run/drain'),
  allocateEnv: envMap,
  virtual,
  dev,
});
const labeller = obj({
  boardMap: val(fc.dictionary(pick('vendor,board', 'sophgo,mango') as fc.Arbitrary<string>, pick('my-board', 'pioneer'), { maxKeys: 2 })),
  labels: obj({ board: fc.boolean(), isa: fc.boolean(), harts: fc.boolean(), uarch: fc.boolean(), devicetree: fc.boolean() }),
  devicetreeNodes: list(pick('/soc/gpu@0')),
  nfdFeaturesFile: pick('/etc/kubernetes/node-feature-discovery/features.d/rrn'),
  rediscoverSeconds: fc.integer({ min: 10, max: 86400 }),
  kubeconfig: pick('/etc/kubernetes/kubelet.conf'),
});
const configDoc = obj({ logLevel: pick('info', 'debug'), nodeName: pick('rv-01', 'lab1-host1'), deviceplugin, labeller });

/** YAML text from a shaped document, and sometimes damaged: cut short, or with YAML's own hazards spliced in. */
function text(doc: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  const hazards = fc.constantFrom(': ', '\n- ', '[', '{', '&a [*a]', '*a', '&x', '!!binary x', '%YAML 1.1\n---\n', '\t', '? [k]\n: v\n', '<<: {}\n', '#', '"', "'", '---\n', '0001', '\n  deviceMapping:\n    - hosts: [a]\n');
  return fc.tuple(doc, fc.nat(), fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: hazards }), fc.nat(9)).map(([d, at, hazard, cut]) => {
    let s = stringify(d);
    const pos = s.length === 0 ? 0 : at % (s.length + 1);
    if (hazard !== null) s = s.slice(0, pos) + hazard + s.slice(pos);
    else if (cut === 0 && s.length > 0) s = s.slice(0, pos);
    return s;
  });
}

const included = fc.record({
  spookd: fc.oneof({ weight: 8, arbitrary: text(spookdDoc).map((t) => ({ text: t })) }, fc.constant({ error: 'ENOENT' }), fc.constant(undefined)),
  smarter: fc.oneof({ weight: 8, arbitrary: text(smarterList).map((t) => ({ text: t })) }, fc.constant({ error: 'EACCES' }), fc.constant(undefined)),
});

/** What a Config promises to the daemon: every value checked, so discovery can trust it. */
function checkValid(c: Config): void {
  const fail = (why: string): never => {
    throw new Error(`parseConfig returned an invalid Config: ${why}`);
  };
  const v = c.deviceplugin.virtual;
  if (v !== undefined) {
    for (const m of v.deviceMapping) {
      if (!m.hosts.every((h) => typeof h === 'string' && h !== '')) fail('a host is not a name');
      for (const d of m.devices) {
        if (extendedResourceNameProblem(d.resourceName) !== undefined) fail(`resource name ${d.resourceName}`);
        if (typeof d.instanceID !== 'string' || d.instanceID === '') fail('instanceID');
        if (!Object.values(d.env).every((x) => typeof x === 'string')) fail('env value');
      }
    }
    virtualResources(v, { nodeName: 'lab1-host1', hostName: 'a' });
  }
  const d = c.deviceplugin.dev;
  if (d !== undefined) {
    if (devPrefixProblem(d.prefix) !== undefined) fail(`prefix ${d.prefix}`);
    for (const item of d.devices) {
      if (devMatchProblem(item.devicematch) !== undefined) fail(`devicematch ${item.devicematch}`);
      if (!Number.isInteger(item.nummaxdevices) || item.nummaxdevices < 0 || item.nummaxdevices > MAX_SHARES) fail('nummaxdevices');
    }
    const entries = [{ path: 'video0', kind: 'char' as const }, { path: 'snd', kind: 'dir' as const, nodes: ['snd/timer'] }, { path: 'snd/timer', kind: 'char' as const }, { path: 'ttyUSB0', kind: 'char' as const }];
    devResources(d, entries, []);
  }
}

test('10,000 random documents: a valid Config, or a ConfigError whose every problem line names the file', (t) => {
  let valid = 0;
  let refused = 0;
  fc.assert(
    fc.property(text(configDoc), included, (doc, inc) => {
      const files = new Map<string, { text: string } | { error: string }>();
      if (inc.spookd !== undefined) files.set(SPOOKD_FILE, inc.spookd);
      if (inc.smarter !== undefined) files.set(SMARTER_FILE, inc.smarter);
      let config: Config;
      try {
        config = parseConfig(doc, FILE, files as IncludedFiles);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        // A YAML syntax error quotes the lines it stopped at ("  3 | key: value", then a caret);
        // every other line is a problem and names the file.
        const problems = err.message.split('\n').filter((line) => !/^ {2}[ \d]* \| /.test(line));
        if (problems.length === 0 || !problems.every((line) => line.startsWith(`config ${FILE}: `))) {
          throw new Error(`a message line that does not name the file: ${err.message}`);
        }
        refused++;
        return;
      }
      checkValid(config);
      valid++;
    }),
    { numRuns: 10_000 },
  );
  t.log(`${valid} valid, ${refused} refused`);
  // Both outcomes must be common, or the generator tests only one side.
  t.true(valid > 500, `valid: ${valid}`);
  t.true(refused > 500, `refused: ${refused}`);
});
