// The shared file helpers over real files in a temp dir: whole replacement, and removal that takes "gone" as done.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { removeIfPresent, removeIfPresentSync, writeFileAtomic } from '../../src/common/atomic-file.js';
import { tempDir } from '../helpers/tmp.js';

test('writeFileAtomic replaces the file whole, with the mode asked for, and leaves no temp file', async (t) => {
  const dir = await tempDir(t, 'rrn-af-');
  const file = path.join(dir, 'claim.json');
  await writeFile(file, 'old');
  await writeFileAtomic(file, 'new\n', { mode: 0o600, durable: true });
  t.is(await readFile(file, 'utf8'), 'new\n');
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(dir), ['claim.json']);
});

for (const [name, remove] of [
  ['removeIfPresent', removeIfPresent],
  ['removeIfPresentSync', async (file: string) => removeIfPresentSync(file)],
] as const) {
  test(`${name}: a file goes, a missing one is no error, anything else is thrown`, async (t) => {
    const dir = await tempDir(t, 'rrn-af-');
    const file = path.join(dir, 'spec.json');
    await writeFile(file, '{}');
    await remove(file);
    t.false(existsSync(file));
    await t.notThrowsAsync(remove(file));
    const sub = path.join(dir, 'a-directory');
    await mkdir(sub);
    const err = await t.throwsAsync<NodeJS.ErrnoException>(remove(sub));
    t.regex(err?.code ?? '', /^(EISDIR|EPERM)$/);
  });
}
