// Writes debian/copyright (DEP-5) for the package: the project, plus every npm package the bundle
// contains and the sd-notify addon, each with its own copyright lines and licence.
// Usage: node packaging/copyright.mjs <bundle-meta.json> <sd-notify LICENSE> > copyright
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [metaFile, sdNotifyLicense] = process.argv.slice(2);
if (!metaFile || !sdNotifyLicense) throw new Error('usage: copyright.mjs <bundle-meta.json> <sd-notify LICENSE>');
const meta = JSON.parse(readFileSync(metaFile, 'utf8'));

// Licences Debian ships in /usr/share/common-licenses: referred to, not copied.
const COMMON = new Set(['Apache-2.0', 'GPL-2', 'GPL-3', 'LGPL-2.1', 'MPL-2.0']);

/** The package directories the bundle took code from (the innermost node_modules/<name>). */
function bundledPackages() {
  const dirs = new Set();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) dirs.add(m[1]);
  }
  return [...dirs].sort();
}

function licenseFile(dir) {
  const name = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i.test(f));
  return name ? readFileSync(path.join(dir, name), 'utf8') : undefined;
}

function copyrightLines(text, pkg) {
  const lines = (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(\(c\)\s*)?copyright\b.*\d{4}/i.test(l))
    .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, '').trim());
  if (lines.length > 0) return [...new Set(lines)];
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  return [author ? `${author} and contributors` : `the ${pkg.name} authors`];
}

/** The licence text without its copyright lines, for a stand-alone licence paragraph. */
function licenseBody(text) {
  return text
    .split('\n')
    .filter((l) => !/^\s*(\(c\)\s*)?copyright\b.*\d{4}/i.test(l))
    .join('\n')
    .replace(/^\s*(the )?(mit|isc) licen[sc]e\s*(\(mit\))?\s*$/im, '')
    .trim();
}

function field(text) {
  return text
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l}`))
    .join('\n');
}

const spdx = (s) => (s === 'Apache 2.0' ? 'Apache-2.0' : s);
const paragraphs = [];
const bodies = new Map();
const own = JSON.parse(readFileSync(path.join(top, 'package.json'), 'utf8'));

paragraphs.push(
  [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${own.name}`,
    'Comment: The program under /usr/lib/riscv-runner-node is one JavaScript bundle made with',
    ' esbuild from the sources of riscv-runner-node and of the npm packages listed below; the',
    ' native/sd-notify builds are compiled from sd-notify. Each paragraph names one of them.',
  ].join('\n'),
);
paragraphs.push(['Files: *', 'Copyright: the riscv-runner-node authors', `License: ${own.license}`].join('\n'));

function addComponent(name, version, license, copyrights, text) {
  paragraphs.push(
    [
      `Files: usr/lib/riscv-runner-node/*`,
      `Comment: bundled ${name} ${version}`,
      `Copyright: ${copyrights.join('\n ')}`,
      `License: ${license}`,
    ].join('\n'),
  );
  if (!COMMON.has(license) && text && !bodies.has(license)) bodies.set(license, licenseBody(text));
}

for (const dir of bundledPackages()) {
  const pkgFile = path.join(top, dir, 'package.json');
  if (!existsSync(pkgFile)) continue;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const license = spdx(typeof pkg.license === 'string' ? pkg.license : pkg.license?.type ?? 'UNKNOWN');
  const text = licenseFile(path.join(top, dir));
  addComponent(pkg.name, pkg.version, license, copyrightLines(text, pkg), text);
}
const sdText = readFileSync(sdNotifyLicense, 'utf8');
addComponent('sd-notify', '2.8.0 (native/sd-notify)', 'MIT', copyrightLines(sdText, { name: 'sd-notify' }), sdText);

for (const license of [...new Set([own.license, ...bodies.keys()])].sort()) {
  if (COMMON.has(license)) {
    paragraphs.push(`License: ${license}\n On Debian systems the full text of this licence is in\n /usr/share/common-licenses/${license}.`);
  } else {
    paragraphs.push(`License: ${license}\n${field(bodies.get(license) ?? '')}`);
  }
}
process.stdout.write(`${paragraphs.join('\n\n')}\n`);
