// The deviceplugin.virtual and deviceplugin.dev sections: spookd's and smarter's schemas, inline and as their own files.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { runCheckConfigCommand } from '../../src/commands/check-config.js';
import { loadConfig, parseConfig, type Config } from '../../src/common/config.js';
import { ConfigError } from '../../src/common/errors.js';
import { systemClock } from '../../src/common/clock.js';
import type { Runtime } from '../../src/common/runtime.js';
import { compileDevMatch, devMatchProblem, type IncludedFiles } from '../../src/common/peer-config.js';
import { SPOOKD_README_MAPPING } from '../helpers/peer-examples.js';
import { tempDir } from '../helpers/tmp.js';

const FILE = '/etc/riscv-runner-node/config.yaml';


const indent = (text: string, by = '    '): string => text.replace(/^(?=.)/gm, by);

function parse(text: string, included: IncludedFiles = new Map()): Config {
  return parseConfig(text, FILE, included);
}

function problemsOf(text: string, included: IncludedFiles = new Map()): string[] {
  const err = (() => {
    try {
      parse(text, included);
      return undefined;
    } catch (e) {
      return e;
    }
  })();
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError for ${JSON.stringify(text)}, got ${String(err)}`);
  const lines = err.message.split('\n');
  for (const line of lines) if (!line.startsWith(`config ${FILE}: `)) throw new Error(`a line that does not name the file: ${line}`);
  return lines.map((l) => l.slice(`config ${FILE}: `.length));
}

test('no virtual or dev section: neither is configured, the runner config is unchanged', (t) => {
  const c = parse('deviceplugin:\n  deviceCount: 2\n');
  t.is(c.deviceplugin.virtual, undefined);
  t.is(c.deviceplugin.dev, undefined);
  t.is(c.deviceplugin.deviceCount, 2);
});

test("virtual: spookd's README mapping reads unchanged", (t) => {
  const c = parse(`deviceplugin:\n  virtual:\n${indent(SPOOKD_README_MAPPING)}`);
  t.deepEqual(c.deviceplugin.virtual, {
    file: undefined,
    deviceMapping: [
      {
        hosts: ['lab1-host1', 'lab1-host2'],
        devices: [
          { resourceName: 'skao.int/oscilloscope', instanceID: '0001', env: { IP: '10.0.10.215' } },
          { resourceName: 'skao.int/oscilloscope', instanceID: '0002', env: { IP: '10.0.10.218' } },
          { resourceName: 'skao.int/signal-generator', instanceID: '0001', env: { IP: '10.10.10.80' } },
        ],
      },
      {
        hosts: ['lab2-host1'],
        devices: [
          { resourceName: 'skao.int/oscilloscope', instanceID: '0003', env: { IP: '10.0.10.85' } },
          { resourceName: 'skao.int/signal-generator', instanceID: '0002', env: { IP: '10.0.10.80' } },
        ],
      },
    ],
  });
});

test('virtual: a device may repeat with the same env (in any key order); env may be absent', (t) => {
  const c = parse(
    [
      'deviceplugin:',
      '  virtual:',
      '    deviceMapping:',
      '      - hosts: [a]',
      '        devices: [{ resourceName: example.com/w, instanceID: "1", env: { IP: x, PORT: "1" } }]',
      '      - hosts: [b]',
      '        devices: [{ resourceName: example.com/w, instanceID: "1", env: { PORT: "1", IP: x } }, { resourceName: example.com/t, instanceID: A1 }]',
    ].join('\n'),
  );
  t.deepEqual(c.deviceplugin.virtual?.deviceMapping[1]?.devices[1], { resourceName: 'example.com/t', instanceID: 'A1', env: {} });
});

test('dev: inline list with the default prefix; nummaxdevices absent is 0', (t) => {
  const c = parse('deviceplugin:\n  dev:\n    devices:\n      - devicematch: ^ttyUSB[0-9]*$\n        nummaxdevices: 1\n      - devicematch: ^vcs$\n');
  t.deepEqual(c.deviceplugin.dev, {
    prefix: 'smarter-devices',
    file: undefined,
    devices: [
      { devicematch: '^ttyUSB[0-9]*$', nummaxdevices: 1 },
      { devicematch: '^vcs$', nummaxdevices: 0 },
    ],
  });
  t.deepEqual(parse('deviceplugin:\n  dev: { prefix: devices.example.com }\n').deviceplugin.dev, { prefix: 'devices.example.com', devices: [], file: undefined });
});

test("file forms: spookd's YAML and smarter's conf.yaml read in place, prefix beside file", async (t) => {
  const dir = await tempDir(t);
  const spookd = path.join(dir, 'spookd.yaml');
  const smarter = path.join(dir, 'conf.yaml');
  const config = path.join(dir, 'config.yaml');
  await writeFile(spookd, SPOOKD_README_MAPPING);
  await writeFile(smarter, '- devicematch: ^snd$\n  nummaxdevices: 20\n- devicematch: ^ttyS[0-9]*$\n  nummaxdevices: 1\n');
  await writeFile(config, `deviceplugin:\n  virtual: { file: ${spookd} }\n  dev: { file: ${smarter}, prefix: boards.example.org }\n`);
  const c = await loadConfig(config, { mustExist: true });
  const inline = parse(`deviceplugin:\n  virtual:\n${indent(SPOOKD_README_MAPPING)}`);
  t.deepEqual(c.deviceplugin.virtual, { ...inline.deviceplugin.virtual, file: spookd } as typeof c.deviceplugin.virtual);
  t.deepEqual(c.deviceplugin.dev, {
    prefix: 'boards.example.org',
    file: smarter,
    devices: [
      { devicematch: '^snd$', nummaxdevices: 20 },
      { devicematch: '^ttyS[0-9]*$', nummaxdevices: 1 },
    ],
  });
});

test('file forms: a missing file is a config error naming the key and the path, with the other problems', async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, `deviceplugin:\n  deviceCount: 0\n  virtual: { file: ${dir}/none.yaml }\n  dev: { file: ${dir} }\n`);
  const err = await t.throwsAsync(loadConfig(config, { mustExist: true }), { instanceOf: ConfigError });
  t.is(err?.exitCode, 78);
  t.deepEqual(err?.message.split('\n'), [
    `config ${config}: deviceplugin.deviceCount 0 must be at least 1 (a board with no runner device takes no runners; use maintenance instead)`,
    `config ${config}: deviceplugin.virtual.file ${dir}/none.yaml cannot be read (ENOENT); fix the path or the file's permissions`,
    `config ${config}: deviceplugin.dev.file ${dir} cannot be read (EISDIR); fix the path or the file's permissions`,
  ]);
});

test('file forms: problems inside the peer file name it and the place in it', (t) => {
  const included: IncludedFiles = new Map([
    ['/etc/spookd/config.yaml', { text: 'deviceMapping:\n  - hosts: [a]\n    devices: [{ resourceName: bad, instanceID: 1 }]\n' }],
    ['/etc/smarter/conf.yaml', { text: '- devicematch: ^a$\n  nummaxdevices: -1\n- deviceMatch: b\n' }],
  ]);
  t.deepEqual(problemsOf('deviceplugin:\n  virtual: { file: /etc/spookd/config.yaml }\n  dev: { file: /etc/smarter/conf.yaml }\n', included), [
    "deviceplugin.virtual.file /etc/spookd/config.yaml: deviceMapping[0].devices[0].resourceName 'bad' is not a valid extended resource name: must be domain/name, e.g. riseproject.com/runner",
    'deviceplugin.virtual.file /etc/spookd/config.yaml: deviceMapping[0].devices[0].instanceID must be a non-empty string, not 1 (quote it: instanceID: "0001" keeps the leading zeros that a number loses)',
    'deviceplugin.dev.file /etc/smarter/conf.yaml: [0].nummaxdevices -1 must be a whole number of shares, 0 or more (0 registers the entry with no devices)',
    'deviceplugin.dev.file /etc/smarter/conf.yaml: [1].deviceMatch is not a known key; did you mean deviceplugin.dev.file /etc/smarter/conf.yaml: [1].devicematch?',
    'deviceplugin.dev.file /etc/smarter/conf.yaml: [1].devicematch is missing; e.g. devicematch: ^ttyUSB[0-9]+$',
  ]);
});

test('duplicate device with another env: both places named, inline and in the file form', (t) => {
  const mapping = [
    'deviceMapping:',
    '  - hosts: [a]',
    '    devices: [{ resourceName: example.com/w, instanceID: "0001", env: { IP: x } }, { resourceName: example.com/w, instanceID: "0002" }]',
    '  - hosts: [b]',
    '    devices: [{ resourceName: example.com/w, instanceID: "0002", env: { IP: y } }]',
    '  - hosts: [c]',
    '    devices: [{ resourceName: example.com/w, instanceID: "0001", env: { IP: x } }, { resourceName: example.com/w, instanceID: "0001", env: { IP: z } }]',
    '',
  ].join('\n');
  const tail = 'a device listed in several mappings must have the same env everywhere: make them identical, or give one another instanceID';
  t.deepEqual(problemsOf(`deviceplugin:\n  virtual:\n${indent(mapping)}`), [
    `deviceplugin.virtual.deviceMapping[1].devices[0] (example.com/w instanceID '0002') repeats deviceMapping[0].devices[1] with a different env; ${tail}`,
    `deviceplugin.virtual.deviceMapping[2].devices[1] (example.com/w instanceID '0001') repeats deviceMapping[0].devices[0] with a different env; ${tail}`,
  ]);
  const included: IncludedFiles = new Map([['/etc/spookd/devices.yaml', { text: mapping }]]);
  t.deepEqual(problemsOf('deviceplugin:\n  virtual: { file: /etc/spookd/devices.yaml }\n', included)[0],
    `deviceplugin.virtual.file /etc/spookd/devices.yaml: deviceMapping[1].devices[0] (example.com/w instanceID '0002') repeats deviceMapping[0].devices[1] with a different env; ${tail}`);
});

/** name, the lines under deviceplugin:, the first problem, how many problems (1 unless given). */
const invalid: Array<[string, string, string | RegExp, number?]> = [
  ['virtual not a mapping', 'virtual: [a]', /^deviceplugin\.virtual must be a mapping \(deviceMapping: \[\.\.\.\], or file: /],
  ['virtual typo', 'virtual: { devicemapping: [] }', 'deviceplugin.virtual.devicemapping is not a known key; did you mean deviceplugin.virtual.deviceMapping?'],
  ['virtual file and mapping', 'virtual: { file: /x.yaml, deviceMapping: [] }', /^deviceplugin\.virtual has both file and deviceMapping; keep one/],
  ['virtual file relative', 'virtual: { file: spookd.yaml }', "deviceplugin.virtual.file 'spookd.yaml' must be an absolute path to the peer's own config file"],
  ['deviceMapping not a list', 'virtual: { deviceMapping: { hosts: [a] } }', /^deviceplugin\.virtual\.deviceMapping must be a list of \{hosts: \[\.\.\.\], devices: \[\.\.\.\]\}/],
  ['hosts not a list', 'virtual: { deviceMapping: [{ hosts: a }] }', "deviceplugin.virtual.deviceMapping[0].hosts must be a list of host names, not 'a'"],
  ['host a number', 'virtual: { deviceMapping: [{ hosts: [1234] }] }', 'deviceplugin.virtual.deviceMapping[0].hosts[0] must be a host name, not 1234 (quote it)'],
  ['mapping typo', 'virtual: { deviceMapping: [{ host: [a] }] }', /^deviceplugin\.virtual\.deviceMapping\[0\]\.host is not a known key \(known: hosts, devices\)/],
  ['device key case', 'virtual: { deviceMapping: [{ devices: [{ resourcename: a.b/c, instanceID: "1" }] }] }', 'deviceplugin.virtual.deviceMapping[0].devices[0].resourcename is not a known key; did you mean deviceplugin.virtual.deviceMapping[0].devices[0].resourceName?', 2],
  ['resource name', 'virtual: { deviceMapping: [{ devices: [{ resourceName: "a b/c", instanceID: "1" }] }] }', /^deviceplugin\.virtual\.deviceMapping\[0\]\.devices\[0\]\.resourceName 'a b\/c' is not a valid extended resource name/],
  ['instanceID unquoted', 'virtual: { deviceMapping: [{ devices: [{ resourceName: a.b/c, instanceID: 0001 }] }] }', /instanceID must be a non-empty string, not 1 \(quote it: instanceID: "0001"/],
  ['env value a number', 'virtual: { deviceMapping: [{ devices: [{ resourceName: a.b/c, instanceID: "1", env: { PORT: 12345 } }] }] }', 'deviceplugin.virtual.deviceMapping[0].devices[0].env.PORT must be a string, not 12345 (quote it)'],
  ['env key clashes', 'virtual: { deviceMapping: [{ devices: [{ resourceName: a.b/c, instanceID: "1", env: { NUM_DEVICES: "2" } }] }] }', /env key 'NUM_DEVICES' would clash with the variable the plugin sets itself \(<RES>_NUM_DEVICES\); rename it$/],
  ['env key with =', 'virtual: { deviceMapping: [{ devices: [{ resourceName: a.b/c, instanceID: "1", env: { "A=B": x } }] }] }', /env key 'A=B' is not usable in an environment variable name/],
  ['dev not a mapping', 'dev: [{ devicematch: a }]', /^deviceplugin\.dev must be a mapping \(prefix, devices: \[\.\.\.\], or file: /],
  ['dev typo', 'dev: { Devices: [] }', 'deviceplugin.dev.Devices is not a known key; did you mean deviceplugin.dev.devices?'],
  ['dev file and devices', 'dev: { file: /c.yaml, devices: [] }', /^deviceplugin\.dev has both file and devices; keep one/],
  ['prefix not DNS', 'dev: { prefix: Smarter_Devices }', /^deviceplugin\.dev\.prefix 'Smarter_Devices' is not a DNS subdomain/],
  ['prefix kubernetes.io', 'dev: { prefix: kubernetes.io }', /^deviceplugin\.dev\.prefix 'kubernetes\.io' cannot prefix a resource name: must not be in the kubernetes\.io domain/],
  ['devices not a list', 'dev: { devices: { devicematch: a } }', /^deviceplugin\.dev\.devices must be a list of \{devicematch, nummaxdevices\}/],
  ['item typo', 'dev: { devices: [{ devicematch: a, numMaxDevices: 2 }] }', 'deviceplugin.dev.devices[0].numMaxDevices is not a known key; did you mean deviceplugin.dev.devices[0].nummaxdevices?'],
  ['devicematch missing', 'dev: { devices: [{ nummaxdevices: 2 }] }', 'deviceplugin.dev.devices[0].devicematch is missing; e.g. devicematch: ^ttyUSB[0-9]+$'],
  ['devicematch a number', 'dev: { devices: [{ devicematch: 10 }] }', /^deviceplugin\.dev\.devices\[0\]\.devicematch must be a regular expression, not 10/],
  ['devicematch broken', 'dev: { devices: [{ devicematch: "^video[" }] }', /^deviceplugin\.dev\.devices\[0\]\.devicematch '\^video\[' is not a valid regular expression \(Unterminated character class\)/],
  ['nummaxdevices fraction', 'dev: { devices: [{ devicematch: a, nummaxdevices: 1.5 }] }', /nummaxdevices 1\.5 must be a whole number of shares/],
  ['nummaxdevices text', 'dev: { devices: [{ devicematch: a, nummaxdevices: "10" }] }', /nummaxdevices '10' must be a whole number of shares/],
  ['nummaxdevices huge', 'dev: { devices: [{ devicematch: a, nummaxdevices: 100000 }] }', 'deviceplugin.dev.devices[0].nummaxdevices 100000 must be at most 1000'],
  ['deviceplugin typo', 'Virtual: {}', 'deviceplugin.Virtual is not a known key; did you mean deviceplugin.virtual?'],
];

for (const [name, body, expected, count = 1] of invalid) {
  test(`invalid: ${name}`, (t) => {
    const problems = problemsOf(`deviceplugin:\n  ${body}\n`);
    t.is(problems.length, count, problems.join('\n'));
    if (typeof expected === 'string') t.is(problems[0], expected);
    else t.regex(problems[0] ?? '', expected);
  });
}

test('every problem is reported at once, across runner keys, virtual and dev', (t) => {
  const problems = problemsOf(
    [
      'deviceplugin:',
      '  deviceCount: 0',
      '  virtual:',
      '    deviceMapping:',
      '      - hosts: [a, 7]',
      '        devices: [{ resourceName: x, instanceID: 1 }, { resourceName: a.b/c, instanceID: "1", env: { P: 1 } }]',
      '  dev:',
      '    prefix: "-"',
      '    devices: [{ devicematch: "(" }, { devicematch: a, nummaxdevices: -2 }, { devicematch: b, nummaxdevice: 1 }]',
    ].join('\n'),
  );
  t.deepEqual(
    problems.map((p) => p.split(' ')[0]),
    [
      'deviceplugin.deviceCount',
      'deviceplugin.virtual.deviceMapping[0].hosts[1]',
      'deviceplugin.virtual.deviceMapping[0].devices[0].resourceName',
      'deviceplugin.virtual.deviceMapping[0].devices[0].instanceID',
      'deviceplugin.virtual.deviceMapping[0].devices[1].env.P',
      'deviceplugin.dev.prefix',
      'deviceplugin.dev.devices[0].devicematch',
      'deviceplugin.dev.devices[1].nummaxdevices',
      'deviceplugin.dev.devices[2].nummaxdevice',
    ],
  );
});

const re2: Array<[string, RegExp]> = [
  ['^ttyUSB\\z', /uses \\z \(RE2: end of text\); write \$ instead/],
  ['\\Atty', /uses \\A \(RE2: start of text\); write \^ instead/],
  ['^tty[[:digit:]]+$', /uses the POSIX class \[:digit:\] .*; write 0-9 \(inside the brackets\) instead/],
  ['(?P<n>tty)', /uses \(\?P<name>…\) \(RE2 named group\); write \(\?<name>…\) instead/],
  ['\\Q.\\E', /uses \\Q…\\E/],
  ['\\pL', /uses \\p \(RE2: Unicode class\)/],
  ['tty(?i)usb', /uses the flag group \(\?i\)…; only a leading \(\?i\)/],
  ['(?U)a+', /uses the flag group \(\?U\)…/],
  ['[]a]', /starts a bracket set with \]/],
];

for (const [source, expected] of re2) {
  test(`devicematch in RE2 syntax JavaScript reads otherwise: ${source}`, (t) => {
    t.regex(devMatchProblem(source) ?? '', expected);
  });
}

test('devicematch: what RE2 and JavaScript read alike compiles, unanchored; a leading (?i) is the i flag', (t) => {
  for (const ok of ['^video[0-9]*$', 'i2c\\-[0-9]', '\\\\z', '[\\]a]', '(?:a|b)', 'a(?=b)', '(?<n>x)', '[a-z\\d_]+', 'tty[^0-9]', '(?i)^ttyusb']) {
    t.is(devMatchProblem(ok), undefined, ok);
  }
  t.true(compileDevMatch('video').test('v4l/by-path/platform-x-video-index0'));
  t.true(compileDevMatch('(?i)^ttyusb').test('ttyUSB0'));
  t.false(compileDevMatch('^video[0-9]*$').test('v4l/video0'));
});

function fakeRuntime(): { rt: Runtime; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const rt: Runtime = {
    env: {},
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    journal: false,
    pid: 1,
    hostname: 'rv-01',
    abi: '0',
    nativeDirs: [],
    clock: systemClock,
    monotonicUsec: () => 0n,
    onReload: () => () => undefined,
    signal: new AbortController().signal,
  };
  return { rt, out, err };
}

test('check-config validates the files the config names, and shows what they hold', async (t) => {
  const dir = await tempDir(t);
  const conf = path.join(dir, 'conf.yaml');
  const config = path.join(dir, 'config.yaml');
  await writeFile(conf, '- devicematch: ^gpiomem$\n  nummaxdevices: 40\n');
  await writeFile(config, `deviceplugin:\n  dev: { file: ${conf} }\n`);
  const good = fakeRuntime();
  t.is(await runCheckConfigCommand({ file: config }, good.rt), 0);
  t.regex(good.out.join(''), /devicematch: \^gpiomem\$\n\s+nummaxdevices: 40/);
  await writeFile(conf, '- devicematch: ^gpiomem\\z\n');
  const bad = fakeRuntime();
  t.is(await runCheckConfigCommand({ file: config }, bad.rt), 78);
  t.regex(bad.err.join(''), new RegExp(`^config ${config}: deviceplugin\\.dev\\.file ${conf}: \\[0\\]\\.devicematch '\\^gpiomem\\\\z' uses \\\\z`));
});
