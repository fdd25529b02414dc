// The dashboard renderer's search for chromium and prometheus, in real directories.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { findProgram } from '../dashboard/programs.js';
import { tempDir } from '../helpers/tmp.js';

const BROWSER = { names: ['chromium', 'chromium-browser'], pkg: 'chromium' };

async function dirs(t: Parameters<typeof tempDir>[0]): Promise<{ a: string; b: string; searchPath: string }> {
  const root = await tempDir(t);
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  await mkdir(a);
  await mkdir(b);
  return { a, b, searchPath: [a, '', b].join(path.delimiter) };
}

async function program(file: string, mode = 0o755): Promise<void> {
  await writeFile(file, '#!/bin/sh\n');
  await chmod(file, mode);
}

test('findProgram: the first name in PATH order, then the next name', async (t) => {
  const { a, b, searchPath } = await dirs(t);
  await program(path.join(b, 'chromium'));
  await program(path.join(a, 'chromium-browser'));
  t.is(await findProgram(BROWSER, searchPath, []), path.join(b, 'chromium'), 'chromium is Debian’s name and comes first');
  t.is(await findProgram({ ...BROWSER, names: ['chromium-browser'] }, searchPath, []), path.join(a, 'chromium-browser'));
});

test('findProgram: a file without execute permission and a directory of that name are passed over', async (t) => {
  const { a, b, searchPath } = await dirs(t);
  await program(path.join(a, 'chromium'), 0o644);
  await mkdir(path.join(b, 'chromium'));
  await program(path.join(b, 'chromium-browser'));
  t.is(await findProgram(BROWSER, searchPath, []), path.join(b, 'chromium-browser'));
});

test('findProgram: the extra directories are searched after PATH (sbin is not on every PATH)', async (t) => {
  const { a, b } = await dirs(t);
  await program(path.join(b, 'prometheus'));
  t.is(await findProgram({ names: ['prometheus'], pkg: 'prometheus' }, a, [b]), path.join(b, 'prometheus'));
});

test('findProgram: none found names every name, where it looked, and the package to install', async (t) => {
  const { a, b, searchPath } = await dirs(t);
  const err = await t.throwsAsync(findProgram(BROWSER, searchPath, []));
  t.is(err?.message, `chromium or chromium-browser not found in ${a}:${b}: apt-get install chromium`);
});
