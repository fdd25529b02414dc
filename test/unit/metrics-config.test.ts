// deviceplugin.metrics and labeller.metrics: what is accepted, and what each mistake is told.
import test from 'ava';
import { parseConfig, parseListen } from '../../src/common/config.js';
import { ConfigError } from '../../src/common/errors.js';

const FILE = '/etc/riscv-runner-node/config.yaml';

function section(daemon: 'deviceplugin' | 'labeller', body: string): string {
  return `${daemon}:\n  metrics:\n${body
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
}

test('metrics are off unless configured', (t) => {
  const c = parseConfig('', FILE);
  t.is(c.deviceplugin.metrics, undefined);
  t.is(c.labeller.metrics, undefined);
  t.is(parseConfig('deviceplugin:\n  metrics: ~\n', FILE).deviceplugin.metrics, undefined);
});

const valid: Array<[string, 'deviceplugin' | 'labeller', string, { listen?: string; textfile?: string }]> = [
  ['loopback IPv4', 'deviceplugin', 'listen: 127.0.0.1:9465', { listen: '127.0.0.1:9465' }],
  ['loopback IPv6', 'labeller', 'listen: "[::1]:9466"', { listen: '[::1]:9466' }],
  ['every interface', 'deviceplugin', 'listen: 0.0.0.0:9465', { listen: '0.0.0.0:9465' }],
  ['unix socket', 'deviceplugin', 'listen: unix:/run/riscv-runner-node/rise-device-plugin/metrics.sock', { listen: 'unix:/run/riscv-runner-node/rise-device-plugin/metrics.sock' }],
  ['textfile', 'labeller', 'textfile: /var/lib/prometheus/node-exporter/rise-node-labeller.prom', { textfile: '/var/lib/prometheus/node-exporter/rise-node-labeller.prom' }],
  [
    'both',
    'deviceplugin',
    'listen: 127.0.0.1:1024\ntextfile: /var/lib/prometheus/node-exporter/rise-device-plugin.prom',
    { listen: '127.0.0.1:1024', textfile: '/var/lib/prometheus/node-exporter/rise-device-plugin.prom' },
  ],
];

for (const [name, daemon, body, expected] of valid) {
  test(`valid metrics: ${name}`, (t) => {
    const c = parseConfig(section(daemon, body), FILE);
    t.deepEqual(c[daemon].metrics, { listen: expected.listen, textfile: expected.textfile });
    const other = daemon === 'deviceplugin' ? 'labeller' : 'deviceplugin';
    t.is(c[other].metrics, undefined, 'one daemon\'s metrics do not turn on the other\'s');
  });
}

const invalid: Array<[string, 'deviceplugin' | 'labeller', string, RegExp]> = [
  ['host name', 'deviceplugin', 'listen: localhost:9465', /deviceplugin\.metrics\.listen 'localhost:9465' must be IP:PORT .*not a host name.* or unix:\/run\/riscv-runner-node\/rise-device-plugin\/metrics\.sock/],
  ['port alone', 'labeller', 'listen: ":9466"', /labeller\.metrics\.listen ':9466' must be IP:PORT.*unix:\/run\/riscv-runner-node\/rise-node-labeller\/metrics\.sock/],
  ['port 0', 'deviceplugin', 'listen: 127.0.0.1:0', /deviceplugin\.metrics\.listen '127\.0\.0\.1:0' has a port outside 1-65535/],
  ['port too high', 'deviceplugin', 'listen: 127.0.0.1:70000', /has a port outside 1-65535/],
  ['IPv6 without brackets', 'deviceplugin', 'listen: "::1:9465"', /must be IP:PORT/],
  ['bad IPv4', 'deviceplugin', 'listen: 127.0.0.300:9465', /must be IP:PORT/],
  ['relative unix path', 'deviceplugin', 'listen: unix:metrics.sock', /must name an absolute socket path after unix:/],
  ['unix directory', 'deviceplugin', 'listen: unix:/run/riscv-runner-node/', /must name a socket file, not a directory/],
  ['unix path too long', 'deviceplugin', `listen: unix:/run/${'x'.repeat(110)}.sock`, /longer than 107 bytes/],
  ['listen not a string', 'deviceplugin', 'listen: 9465', /deviceplugin\.metrics\.listen must be a string, not 9465/],
  ['relative textfile', 'labeller', 'textfile: labeller.prom', /labeller\.metrics\.textfile 'labeller\.prom' must be an absolute path, e\.g\. \/var\/lib\/prometheus\/node-exporter\/rise-node-labeller\.prom/],
  ['textfile without .prom', 'deviceplugin', 'textfile: /var/lib/prometheus/node-exporter/plugin.txt', /must end in \.prom, the only files node_exporter's textfile collector reads/],
  ['textfile named only .prom', 'deviceplugin', 'textfile: /var/lib/prometheus/node-exporter/.prom', /must end in \.prom/],
  ['typo in a key', 'deviceplugin', 'Listen: 127.0.0.1:9465', /deviceplugin\.metrics\.Listen is not a known key; did you mean deviceplugin\.metrics\.listen\?/],
  ['unknown key', 'labeller', 'port: 9466', /labeller\.metrics\.port is not a known key \(known: listen, textfile\)/],
  ['empty section', 'deviceplugin', '{}', /deviceplugin\.metrics needs listen .* or textfile .*; remove the key to turn metrics off/],
  ['not a mapping', 'labeller', '- 127.0.0.1:9466', /labeller\.metrics must be a mapping/],
];

for (const [name, daemon, body, expected] of invalid) {
  test(`invalid metrics: ${name}`, (t) => {
    const err = t.throws(() => parseConfig(section(daemon, body), FILE), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', expected);
    t.true(err?.message.split('\n').every((l) => l.startsWith(`config ${FILE}: `)));
    t.is(err?.exitCode, 78);
  });
}

test('every metrics problem is reported at once, with the others', (t) => {
  const text = 'deviceplugin:\n  deviceCount: 0\n  metrics:\n    listen: localhost:1\n    textfile: x.prom\nlabeller:\n  metrics:\n    lissten: 1\n';
  const err = t.throws(() => parseConfig(text, FILE), { instanceOf: ConfigError });
  const lines = err?.message.split('\n') ?? [];
  t.is(lines.length, 5, err?.message);
  t.true(lines.some((l) => l.includes('deviceplugin.deviceCount')));
  t.true(lines.some((l) => l.includes('deviceplugin.metrics.listen')));
  t.true(lines.some((l) => l.includes('deviceplugin.metrics.textfile')));
  t.true(lines.some((l) => l.includes('labeller.metrics.lissten')));
  t.true(lines.some((l) => l.includes('labeller.metrics needs listen')));
});

const addresses: Array<[string, ReturnType<typeof parseListen>]> = [
  ['127.0.0.1:9465', { kind: 'tcp', host: '127.0.0.1', port: 9465 }],
  ['[::1]:9465', { kind: 'tcp', host: '::1', port: 9465 }],
  ['[fe80::1]:1', { kind: 'tcp', host: 'fe80::1', port: 1 }],
  ['unix:/run/a.sock', { kind: 'unix', path: '/run/a.sock' }],
  ['[127.0.0.1]:9465', undefined],
  ['127.0.0.1', undefined],
  ['127.0.0.1:65536', undefined],
  ['unix:', undefined],
];

for (const [value, expected] of addresses) {
  test(`parseListen ${value}`, (t) => {
    t.deepEqual(parseListen(value), expected);
  });
}
