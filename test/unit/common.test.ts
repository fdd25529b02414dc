// Pure helpers shared by both daemons: label syntax, backoff, logger, watchdog interval.
import test from 'ava';
import { Backoff } from '../../src/common/backoff.js';
import { extendedResourceNameProblem, isValidLabelValue, isQualifiedName } from '../../src/common/labels.js';
import { createLogger } from '../../src/common/logger.js';
import { watchdogIntervalMs } from '../../src/common/notifier.js';

const labelValues: Array<[string, boolean]> = [
  ['', true],
  ['scw-em-rv1', true],
  ['a', true],
  ['A.b_c-9', true],
  ['-a', false],
  ['a-', false],
  ['a,b', false],
  ['a b', false],
  ['a/b', false],
  ['x'.repeat(63), true],
  ['x'.repeat(64), false],
];
for (const [value, ok] of labelValues) {
  test(`label value ${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value)} is ${ok ? 'valid' : 'invalid'}`, (t) => {
    t.is(isValidLabelValue(value), ok);
  });
}

const qualified: Array<[string, boolean]> = [
  ['riseproject.dev/board', true],
  ['riseproject.dev/isa.zba', true],
  ['board', true],
  ['Riseproject.dev/board', false],
  ['a/b/c', false],
  ['riseproject.dev/', false],
  [`riseproject.dev/${'x'.repeat(64)}`, false],
];
for (const [key, ok] of qualified) {
  test(`qualified name ${key.slice(0, 30)} is ${ok ? 'valid' : 'invalid'}`, (t) => {
    t.is(isQualifiedName(key), ok);
  });
}

const resources: Array<[string, boolean]> = [
  ['riseproject.com/runner', true],
  ['example.com/a.b_c-d', true],
  ['runner', false],
  ['foo bar', false],
  ['riseproject.com/foo bar', false],
  ['kubernetes.io/runner', false],
  ['node.kubernetes.io/runner', false],
  ['UPPER.com/runner', false],
  ['/runner', false],
];
for (const [name, ok] of resources) {
  test(`extended resource name '${name}' is ${ok ? 'accepted' : 'refused'}`, (t) => {
    t.is(extendedResourceNameProblem(name) === undefined, ok);
  });
}

test('backoff grows exponentially to its cap, with at least half of each step fixed', (t) => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  t.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
  const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  t.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [100, 200, 400, 800, 1000]);
  high.reset();
  t.is(high.next(), 100);
});

test('backoff rejects nonsense', (t) => {
  t.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), { instanceOf: RangeError });
  t.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), { instanceOf: RangeError });
});

test('logger: one line per event, a level on each, filtered by level', (t) => {
  const out: string[] = [];
  const log = createLogger({ level: 'info', journal: false, write: (l) => out.push(l), now: () => new Date(0) });
  log.debug('hidden');
  log.info('two\nlines');
  log.error('bad');
  t.deepEqual(out, ['1970-01-01T00:00:00.000Z info  two | lines\n', '1970-01-01T00:00:00.000Z error bad\n']);
});

test('logger: syslog priority prefixes when stderr is the journal', (t) => {
  const out: string[] = [];
  const log = createLogger({ level: 'debug', journal: true, write: (l) => out.push(l) });
  log.error('e');
  log.warn('w');
  log.info('i');
  log.debug('d');
  t.deepEqual(out, ['<3>e\n', '<4>w\n', '<6>i\n', '<7>d\n']);
});

const watchdog: Array<[Record<string, string>, number | undefined]> = [
  [{}, undefined],
  [{ WATCHDOG_USEC: '20000000' }, 10000],
  [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' }, 10000],
  [{ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '43' }, undefined],
  [{ WATCHDOG_USEC: 'abc' }, undefined],
  [{ WATCHDOG_USEC: '1000' }, undefined],
];
for (const [env, expected] of watchdog) {
  test(`watchdog interval for ${JSON.stringify(env)} is ${String(expected)}`, (t) => {
    t.is(watchdogIntervalMs(env, 42), expected);
  });
}
