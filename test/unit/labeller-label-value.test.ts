// The label value rule: the original's output where it was valid, a valid value (or none) for anything else.
import test from 'ava';
import fc from 'fast-check';
import { isValidLabelValue } from '../../src/common/labels.js';
import { toLabelValue } from '../../src/labeller/label-value.js';
import { boardLabelFor, parseCompatible } from '../../src/labeller/discovery.js';

/** What the original labeller did: lowercase, commas and spaces to '-'. */
const original = (s: string): string => s.toLowerCase().replace(/[, ]/g, '-');

const table: Array<[string, string | undefined]> = [
  ['Foo,Bar Baz', 'foo-bar-baz'],
  ['riscv-virtio', 'riscv-virtio'],
  ['starfive,visionfive-2-v1.3b', 'starfive-visionfive-2-v1.3b'],
  ['sifive,u74-mc', 'sifive-u74-mc'],
  ['vendor,board+rev2', 'vendor-board-rev2'],
  ['vendor/board', 'vendor-board'],
  ['-leading,and trailing.', 'leading-and-trailing'],
  ['caf\u00e9,board', 'caf--board'],
  ['\u2603', undefined],
  ['', undefined],
  ['   ', undefined],
  [',,,', undefined],
  ['a'.repeat(63), 'a'.repeat(63)],
  ['a'.repeat(62) + '-b', 'a'.repeat(62)],
  ['x'.repeat(100), 'x'.repeat(63)],
];

for (const [input, expected] of table) {
  test(`toLabelValue(${JSON.stringify(input)}) is ${JSON.stringify(expected)}`, (t) => {
    t.is(toLabelValue(input), expected);
  });
}

test('bytes that are not UTF-8 become one - per byte and are trimmed away at the ends', (t) => {
  t.is(toLabelValue(Uint8Array.from([0xff, 0x61, 0xfe, 0x62, 0x80])), 'a-b');
});

test('on inputs the original turned into a valid value, the result is identical', (t) => {
  fc.assert(
    fc.property(fc.stringOf(fc.constantFrom(...'abcXYZ019-_., '.split('')), { maxLength: 80 }), (s) => {
      const theirs = original(s.trim());
      if (theirs !== '' && isValidLabelValue(theirs)) return toLabelValue(s) === theirs;
      return true;
    }),
    { numRuns: 10_000 },
  );
  t.pass();
});

test('any byte string gives a valid label value or none, and never throws (10,000 runs)', (t) => {
  let labelled = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const value = toLabelValue(bytes);
      if (value !== undefined) {
        labelled += 1;
        return value !== '' && isValidLabelValue(value);
      }
      return true;
    }),
    { numRuns: 10_000 },
  );
  // The property must exercise the valid branch, not only "no label".
  t.true(labelled > 1000);
});

test('any compatible file gives a valid board label or none, and never throws (10,000 runs)', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const value = boardLabelFor(parseCompatible(bytes), {});
      return value === undefined || (value !== '' && isValidLabelValue(value));
    }),
    { numRuns: 10_000 },
  );
  t.pass();
});
