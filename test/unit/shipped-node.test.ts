// The benchmarks start the daemons with the packaged wrapper's Node flags; read them right.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { parseWrapperNodeFlags, shippedNodeFlags } from '../helpers/shipped-node.js';

const scripts: Array<[string, string, string[] | 'error']> = [
  ['flags then script', '#!/bin/sh\nexec /usr/bin/node --a --b=1 /usr/lib/x/cli.js "$@"\n', ['--a', '--b=1']],
  ['no flags', 'exec node /usr/lib/x/cli.js "$@"\n', []],
  ['indented, after comments', '# exec node --not-this\n  exec /usr/bin/node --c /x.js\n', ['--c']],
  ['flags after the script are the script’s', 'exec /usr/bin/node --a /x.js --b\n', ['--a']],
  ['no exec line', '#!/bin/sh\nnode --a /x.js\n', 'error'],
];
for (const [name, script, want] of scripts) {
  test(`wrapper flags: ${name}`, (t) => {
    if (want === 'error') t.throws(() => parseWrapperNodeFlags(script), { message: /no `exec …node …` line/ });
    else t.deepEqual(parseWrapperNodeFlags(script), want);
  });
}

test('the shipped wrapper’s flags start this Node without a warning', (t) => {
  const flags = shippedNodeFlags();
  t.true(flags.includes('--lite-mode'), `flags: ${flags.join(' ')}`);
  const run = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, 'ok');
  t.is(run.stderr, '');
});
