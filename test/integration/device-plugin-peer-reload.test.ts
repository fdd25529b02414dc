// Live reload of the peers' files and of random configs: a reload applies whole or not at all.
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ConfigError } from '../../src/common/errors.js';
import { loadConfig, type DevicePluginConfig } from '../../src/common/config.js';
import { discover } from '../../src/deviceplugin/sources/index.js';
import { buildDevTree } from '../helpers/dev-tree.js';
import { eventually } from '../helpers/eventually.js';
import { SPOOKD_README_MAPPING } from '../helpers/peer-examples.js';
import { RESOURCE, startHarness, type Harness } from '../helpers/plugin-harness.js';
import { tempDir } from '../helpers/tmp.js';

const OSC = 'skao.int/oscilloscope';
const SIG = 'skao.int/signal-generator';

/** A harness reading its config from a real file, as the daemon does; maintenance flag in the temp dir. */
async function withConfigFile(t: ExecutionContext, etc: string, text: string, settings: { root?: string; hostName?: string } = {}): Promise<{ h: Harness; file: string; read: () => Promise<DevicePluginConfig> }> {
  const file = path.join(etc, 'config.yaml');
  await writeFile(file, text);
  const read = async (): Promise<DevicePluginConfig> => ({ ...(await loadConfig(file, { mustExist: true })).deviceplugin, maintenanceFile: path.join(etc, 'maintenance') });
  const h = await startHarness(t, {
    settings: {
      ...(await read()),
      configFile: file,
      reloadConfig: read,
      names: { nodeName: 'rv-01', hostName: settings.hostName ?? 'rv-01' },
      ...(settings.root ? { root: settings.root } : {}),
    },
  });
  return { h, file, read };
}

test("spookd's own file, named by deviceplugin.virtual.file, is watched: an edit applies live; an invalid one keeps the previous devices", async (t) => {
  const etc = await tempDir(t, 'rrn-etc-');
  const spookd = path.join(etc, 'spookd.yaml');
  await writeFile(spookd, SPOOKD_README_MAPPING);
  const { h } = await withConfigFile(t, etc, `deviceplugin:\n  virtual: { file: ${spookd} }\n`, { hostName: 'lab1-host1' });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(OSC) === 2 && h.kubelet.allocatable(SIG) === 1, 10_000, 'the README devices');

  // A third oscilloscope for lab1: no signal, no reload call.
  const added = SPOOKD_README_MAPPING.replace(
    '      - resourceName: skao.int/signal-generator\n        instanceID: "0001"',
    '      - resourceName: skao.int/oscilloscope\n        instanceID: "0009"\n        env: { IP: 10.0.10.99 }\n      - resourceName: skao.int/signal-generator\n        instanceID: "0001"',
  );
  t.not(added, SPOOKD_README_MAPPING);
  await writeFile(spookd, added);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(OSC) === 3, 10_000, 'the added oscilloscope');
  t.deepEqual(h.kubelet.devices(OSC).map((d) => d.ID), ['0001', '0002', '0009']);
  const env = (await h.kubelet.allocate(OSC, ['0009'])).container_responses[0]?.envs;
  t.is(env?.['SKAOINT_OSCILLOSCOPE_IP'], '10.0.10.99');
  t.is(h.plugin.stats().reloadError, undefined);

  // The same device twice with different env: the whole file is refused, the previous devices serve on.
  const invalid = `${added}  - hosts: [lab1-host2]\n    devices:\n      - resourceName: skao.int/oscilloscope\n        instanceID: "0001"\n        env: { IP: 10.9.9.9 }\n`;
  const before = h.kubelet.updates.length;
  await writeFile(spookd, invalid);
  t.true(
    await eventually(() => /^config reload failed: .+; still serving the previous config; registered with kubelet: /.test(h.notifier.lastStatus ?? ''), 10_000),
    h.notifier.lastStatus,
  );
  t.regex(h.notifier.lastStatus ?? '', /spookd\.yaml/);
  t.true(h.logger.lines.some((l) => l.level === 'error' && /config reload failed; still serving the previous config/.test(l.message)));
  t.deepEqual([h.kubelet.allocatable(OSC), h.kubelet.allocatable(SIG)], [3, 1]);
  t.is(h.kubelet.updates.length, before, 'nothing sent to the kubelet');
  t.is((await h.kubelet.allocate(OSC, ['0001'])).container_responses[0]?.envs?.['SKAOINT_OSCILLOSCOPE_IP'], '10.0.10.215');

  // Fixed again: in effect, and STATUS says nothing of the failure any more.
  await writeFile(spookd, SPOOKD_README_MAPPING);
  await h.kubelet.waitFor(() => h.kubelet.allocatable(OSC) === 2, 10_000, 'back to the README devices');
  t.true(await eventually(() => !/config reload failed/.test(h.notifier.lastStatus ?? '')), h.notifier.lastStatus);
  t.is(h.kubelet.registrations.filter((r) => r.resourceName === OSC).length, 1, 'no re-registration');
  t.is(h.kubelet.streamsOpened.get(OSC), 1, 'one stream throughout');
});

/** A small seeded PRNG (mulberry32): the same cases on every run, and a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random config texts over the three schemas, mostly valid, with the mistakes people make; the
 * virtual section is sometimes spookd's own file (its text returned beside ours, for `spookdFile`).
 */
function generator(random: () => number): (spookdFile: string) => { text: string; spookd: string | undefined } {
  const pick = (...values: Array<string | number>): string => String(values[Math.floor(random() * values.length)]);
  const times = (max: number, f: () => string): string => Array.from({ length: Math.floor(random() * (max + 1)) }, f).join('');
  const device = (): string =>
    `      - resourceName: ${pick('example.com/widget', 'example.com/gadget', 'skao.int/osc-2', 'bad name', `example.com/${'x'.repeat(64)}`, 'rise.example/runner')}\n` +
    `        instanceID: "${pick('0001', '0002', 'A1234')}"\n` +
    (random() < 0.8 ? `        env: { IP: ${pick('10.0.0.1', '10.0.0.2')}${random() < 0.3 ? ', PORT: "1"' : ''} }\n` : '');
  const mapping = (): string => `    - hosts: [${pick('rv-01', 'RV-01', 'lab1-host1', 'rv-01, lab1-host1')}]\n      devices:\n${times(3, device)}`;
  const virtual = (): string => `  virtual:\n    deviceMapping:\n${times(3, mapping) || '    []\n'}`;
  const spookdText = (): string => `deviceMapping:\n${(times(3, mapping) || '    []\n').replace(/^ {2}/gm, '')}`;
  const item = (): string =>
    `    - devicematch: ${pick('^ttyUSB[0-9]+$', '^snd$', '^null$', '^video[0-9]$', "'('", 'tty', '^net$')}\n` +
    (random() < 0.8 ? `      nummaxdevices: ${pick(0, 1, 3, -1, 'x', 2.5)}\n` : '');
  const dev = (): string => `  dev:\n${random() < 0.2 ? `    prefix: ${pick('devices.example.org', 'Bad_Prefix')}\n` : ''}    devices:\n${times(3, item) || '      []\n'}`;
  return (spookdFile) => {
    if (random() < 0.05) return { text: pick('deviceplugin: [\n', 'deviceplugin:\n  dev:\n    devices:\n  - x\n', ':\n'), spookd: undefined };
    let text = 'deviceplugin:\n';
    let spookd: string | undefined;
    if (random() < 0.4) text += `  deviceCount: ${pick(1, 2, 3, 0, 'many', -1)}\n`;
    if (random() < 0.15) text += pick('  resourceName: example.com/slot\n  socketName: slot.sock\n', '  resourceNmae: x\n', '  socketName: spookd-examplecom_widget.sock\n');
    if (random() < 0.2) {
      spookd = spookdText();
      text += `  virtual: { file: ${spookdFile} }\n`;
    } else if (random() < 0.5) text += virtual();
    if (random() < 0.6) text += dev();
    return { text, spookd };
  };
}

const CASES = 150;

test(`${CASES} random configs written to the watched file and reloaded: each is fully in effect, or refused with the previous fully in effect`, async (t) => {
  t.timeout(90_000);
  const root = await tempDir(t, 'rrn-fz-');
  await buildDevTree(path.join(root, 'dev'), ['c ttyUSB0', 'c ttyUSB3', 'c null', 'c snd/controlC0', 'c snd/seq', 'c video0', 'd net']);
  const etc = await tempDir(t, 'rrn-etc-');
  const { h, file, read } = await withConfigFile(t, etc, 'deviceplugin:\n  deviceCount: 1\n', { root });
  await h.kubelet.waitFor(() => h.kubelet.allocatable(RESOURCE) === 1, 10_000, 'registration');
  const next = generator(prng(9));
  const served = (): Record<string, number> => Object.fromEntries(h.plugin.manager.views().map((v) => [v.spec.name, v.spec.devices.length]));
  const counts = { applied: 0, refused: 0, spookdFiles: 0 };
  for (let i = 0; i < CASES; i++) {
    // A new spookd file each case: writing it must not stir the previous case's watch.
    const spookdFile = path.join(etc, `spookd-${i}.yaml`);
    const { text: ours, spookd } = next(spookdFile);
    // For messages: both files.
    const text = spookd === undefined ? ours : `${ours}# ${spookdFile}:\n${spookd}`;
    if (spookd !== undefined) await writeFile(spookdFile, spookd);
    const previous = h.plugin.manager.views().map((v) => v.spec);
    const before = served();
    // Written whole and renamed over, as a config should be: the watch must never see half a file.
    await writeFile(`${file}.new`, ours);
    await rename(`${file}.new`, file);
    await h.plugin.reload();
    if (spookd !== undefined) counts.spookdFiles += 1;
    let want: Record<string, number>;
    try {
      const config = await read();
      const found = await discover({ config, names: h.settings.names, devDir: h.settings.devDir, socketDir: h.dir, maintenance: false, previous });
      want = Object.fromEntries(found.resources.map((r) => [r.name, r.devices.length]));
      counts.applied += 1;
      t.is(h.plugin.stats().reloadError, undefined, `case ${i} is valid:\n${text}`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      want = before;
      counts.refused += 1;
      t.truthy(h.plugin.stats().reloadError, `case ${i} is refused:\n${text}`);
    }
    t.deepEqual(served(), want, `case ${i}:\n${text}`);
    // And the kubelet sees the same set: every resource registered and streaming, nothing else.
    const names = Object.keys(want).sort();
    const ok = await eventually(
      () => JSON.stringify(h.kubelet.streamingResources()) === JSON.stringify(names) && names.every((n) => h.kubelet.capacity(n) === want[n]),
      5000,
    );
    t.true(ok, `case ${i}: the kubelet streams ${h.kubelet.streamingResources().join(', ')}; want ${names.join(', ')}\n${text}`);
    if (!ok) break;
  }
  t.log(counts);
  // Both kinds of case must have come up for the test to mean anything.
  t.true(counts.applied > CASES / 5 && counts.refused > CASES / 5, JSON.stringify(counts));
});
