// The deviceplugin.virtual (spookd) and deviceplugin.dev (smarter-device-manager) sections, inline or read from the peer's own file;
// the pieces every peer section shares (pci's own reader is pci-config.ts).
import { parseDocument } from 'yaml';
import type { DevConfig, DevMatch, VirtualConfig, VirtualDevice, VirtualMapping } from './config.js';
import { extendedResourceNameProblem, isDnsSubdomain } from './labels.js';

export const DEFAULT_DEV_PREFIX = 'smarter-devices';

/** A share count past this is a typo, and each share is one device in every ListAndWatch answer. */
export const MAX_SHARES = 1000;

/** What loadConfig read for each `file:` the config names: the text, or why it could not. */
export type IncludedFiles = ReadonlyMap<string, { text: string } | { error: string }>;

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as the operator wrote it; never throws (aliases can make YAML values circular). */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1))}'`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Array.isArray(v) ? 'a list' : 'a mapping';
  }
}

export function unknownKeys(obj: Obj, known: readonly string[], at: (key: string) => string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    problems.push(`${at(key)} is not a known key${near ? `; did you mean ${at(near)}?` : ` (known: ${known.join(', ')})`}`);
  }
}

/** The `file:` paths the sections ask for, so loadConfig can read them before parsing. */
export function includedPaths(raw: unknown): string[] {
  const dp = isObj(raw) ? raw['deviceplugin'] : undefined;
  if (!isObj(dp)) return [];
  const paths: string[] = [];
  for (const key of ['virtual', 'dev', 'pci']) {
    const section = dp[key];
    const file = isObj(section) ? section['file'] : undefined;
    if (typeof file === 'string' && file.startsWith('/')) paths.push(file);
  }
  return paths;
}

/**
 * Where a problem or a resource comes from: the key under deviceplugin.<section> when inline,
 * else "deviceplugin.<section>.file <path>: <place in that file>".
 */
export function peerPlace(section: 'virtual' | 'dev' | 'pci', file: string | undefined, sub: string): string {
  if (file === undefined) return `deviceplugin.${section}.${sub}`;
  return `deviceplugin.${section}.file ${file}: ${sub}`;
}

/** The place of one smarter item: devices[i] inline, [i] in smarter's own list. */
export function devItemPlace(file: string | undefined, index: number): string {
  return file === undefined ? peerPlace('dev', undefined, `devices[${index}]`) : peerPlace('dev', file, `[${index}]`);
}

export function virtualDevicePlace(file: string | undefined, mapping: number, device: number): string {
  return peerPlace('virtual', file, `deviceMapping[${mapping}].devices[${device}]`);
}

/** Reads an included file's YAML; undefined (with a problem) when it is missing or broken. */
export function includedValue(key: string, file: string, included: IncludedFiles, problems: string[]): { value: unknown } | undefined {
  const got = included.get(file);
  if (got === undefined || 'error' in got) {
    const why = got === undefined ? 'not loaded' : got.error;
    problems.push(`${key} ${file} cannot be read (${why}); fix the path or the file's permissions`);
    return undefined;
  }
  const doc = parseDocument(got.text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first?.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    const what = (first?.message.split('\n')[0] ?? 'parse error').replace(/ at line \d+, column \d+:?$/, '');
    problems.push(`${key} ${file} is not valid YAML${where}: ${what}`);
    return undefined;
  }
  try {
    return { value: doc.toJS() as unknown };
  } catch (err) {
    problems.push(`${key} ${file} cannot be read as data: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** A true/false key; the fallback when absent, with a problem when it is something else. */
export function readBool(obj: Obj, key: string, place: string, fallback: boolean, problems: string[]): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') {
    problems.push(`${place} must be true or false, not ${showValue(v)}`);
    return fallback;
  }
  return v;
}

/**
 * The peer's list under `listKey`, from the section inline or from the peer's own file named by
 * `file:` (a mapping whose only key is listKey). Undefined, with the problem, when the file form
 * is wrong, unreadable or not such a mapping.
 */
export function peerList(
  value: Obj,
  section: 'virtual' | 'pci',
  listKey: string,
  peer: string,
  included: IncludedFiles,
  problems: string[],
): { list: unknown; file: string | undefined } | undefined {
  const key = `deviceplugin.${section}`;
  const form = fileForm(value, key, problems);
  if (form === 'invalid') return undefined;
  if (form === undefined) return { list: value[listKey], file: undefined };
  if (Object.hasOwn(value, listKey)) {
    problems.push(`${key} has both file and ${listKey}; keep one (the file holds ${peer}'s own ${listKey})`);
    return undefined;
  }
  const got = includedValue(`${key}.file`, form.file, included, problems);
  if (got === undefined) return undefined;
  const doc = got.value ?? {};
  if (!isObj(doc)) {
    problems.push(`${peerPlace(section, form.file, '')}must be a mapping with the key ${listKey} (${peer}'s format), not ${showValue(doc)}`);
    return undefined;
  }
  unknownKeys(doc, [listKey], (k) => peerPlace(section, form.file, k), problems);
  return { list: doc[listKey], file: form.file };
}

/** `{file: /abs/path}` and what else may sit beside it; undefined when the section is inline. */
export function fileForm(section: Obj, key: string, problems: string[]): { file: string } | 'invalid' | undefined {
  if (!Object.hasOwn(section, 'file')) return undefined;
  const file = section['file'];
  if (typeof file !== 'string' || !file.startsWith('/')) {
    problems.push(`${key}.file ${showValue(file)} must be an absolute path to the peer's own config file`);
    return 'invalid';
  }
  return { file };
}

// ---------------------------------------------------------------- virtual (spookd)

const VIRTUAL_KEYS = ['deviceMapping', 'file'] as const;
const MAPPING_KEYS = ['hosts', 'devices'] as const;
const VDEVICE_KEYS = ['resourceName', 'instanceID', 'env'] as const;

/** Keys that spookd's own variables already use: an env entry with one of them would shadow it. */
function envKeyProblem(key: string): string | undefined {
  if (key === '' || /[=\0]/.test(key) || !/^[\x21-\x7e]+$/.test(key)) {
    return 'is not usable in an environment variable name (printable characters, no "=" or spaces)';
  }
  if (key === 'ID' || key === 'TYPE' || key === 'NUM_DEVICES' || /^DEV\d+_/.test(key)) {
    return `would clash with the variable the plugin sets itself (<RES>_${key}); rename it`;
  }
  return undefined;
}

/** deviceplugin.virtual: spookd's deviceMapping, inline or `{file: /path}` (spookd's own YAML). */
export function readVirtualSection(value: unknown, included: IncludedFiles, problems: string[]): VirtualConfig | undefined {
  const key = 'deviceplugin.virtual';
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    problems.push(`${key} must be a mapping (deviceMapping: [...], or file: /path/to/spookd.yaml), not ${showValue(value)}`);
    return undefined;
  }
  unknownKeys(value, VIRTUAL_KEYS, (k) => `${key}.${k}`, problems);
  const got = peerList(value, 'virtual', 'deviceMapping', 'spookd', included, problems);
  return got === undefined ? undefined : readDeviceMapping(got.list, got.file, problems);
}

function readDeviceMapping(value: unknown, file: string | undefined, problems: string[]): VirtualConfig {
  const config: VirtualConfig = { deviceMapping: [], file };
  const at = (sub: string): string => peerPlace('virtual', file, sub);
  if (value === undefined || value === null) return config;
  if (!Array.isArray(value)) {
    problems.push(`${at('deviceMapping')} must be a list of {hosts: [...], devices: [...]}, not ${showValue(value)}`);
    return config;
  }
  // (resourceName, instanceID) → where it first appeared and its env, so a second sighting can be compared.
  const seen = new Map<string, { place: string; env: Record<string, string> }>();
  value.forEach((m: unknown, i) => {
    const mapping = `deviceMapping[${i}]`;
    if (!isObj(m)) {
      problems.push(`${at(mapping)} must be a mapping with hosts and devices, not ${showValue(m)}`);
      return;
    }
    unknownKeys(m, MAPPING_KEYS, (k) => at(`${mapping}.${k}`), problems);
    const out: VirtualMapping = { hosts: [], devices: [] };
    const hosts = m['hosts'];
    if (hosts !== undefined && hosts !== null) {
      if (!Array.isArray(hosts)) {
        problems.push(`${at(`${mapping}.hosts`)} must be a list of host names, not ${showValue(hosts)}`);
      } else {
        hosts.forEach((h: unknown, j) => {
          if (typeof h === 'string' && h !== '') out.hosts.push(h);
          else problems.push(`${at(`${mapping}.hosts[${j}]`)} must be a host name, not ${showValue(h)}${typeof h === 'number' ? ' (quote it)' : ''}`);
        });
      }
    }
    const devices = m['devices'];
    if (devices !== undefined && devices !== null && !Array.isArray(devices)) {
      problems.push(`${at(`${mapping}.devices`)} must be a list of {resourceName, instanceID, env}, not ${showValue(devices)}`);
    } else if (Array.isArray(devices)) {
      devices.forEach((d: unknown, j) => {
        const place = `${mapping}.devices[${j}]`;
        const device = readVirtualDevice(d, at(place), problems);
        if (device === undefined) return;
        const id = `${device.resourceName}\0${device.instanceID}`;
        const first = seen.get(id);
        if (first === undefined) {
          seen.set(id, { place, env: device.env });
        } else if (!sameEnv(first.env, device.env)) {
          problems.push(
            `${at(place)} (${device.resourceName} instanceID '${device.instanceID}') repeats ${first.place} with a different env; ` +
              'a device listed in several mappings must have the same env everywhere: make them identical, or give one another instanceID',
          );
        }
        out.devices.push(device);
      });
    }
    config.deviceMapping.push(out);
  });
  return config;
}

function readVirtualDevice(d: unknown, place: string, problems: string[]): VirtualDevice | undefined {
  if (!isObj(d)) {
    problems.push(`${place} must be a mapping with resourceName, instanceID and env, not ${showValue(d)}`);
    return undefined;
  }
  unknownKeys(d, VDEVICE_KEYS, (k) => `${place}.${k}`, problems);
  let ok = true;
  const resourceName = d['resourceName'];
  if (typeof resourceName !== 'string') {
    problems.push(`${place}.resourceName ${resourceName === undefined ? 'is missing' : `must be a string, not ${showValue(resourceName)}`}; e.g. resourceName: example.com/widget`);
    ok = false;
  } else {
    const problem = extendedResourceNameProblem(resourceName);
    if (problem) {
      problems.push(`${place}.resourceName ${showValue(resourceName)} is not a valid extended resource name: ${problem}`);
      ok = false;
    }
  }
  const instanceID = d['instanceID'];
  if (typeof instanceID !== 'string' || instanceID === '') {
    const hint = typeof instanceID === 'number' ? ` (quote it: instanceID: "0001" keeps the leading zeros that a number loses)` : '';
    problems.push(`${place}.instanceID ${instanceID === undefined ? 'is missing' : `must be a non-empty string, not ${showValue(instanceID)}`}${hint}`);
    ok = false;
  }
  const env: Array<[string, string]> = [];
  const rawEnv = d['env'];
  if (rawEnv !== undefined && rawEnv !== null) {
    if (!isObj(rawEnv)) {
      problems.push(`${place}.env must be a mapping of strings, not ${showValue(rawEnv)}`);
      ok = false;
    } else {
      for (const [k, v] of Object.entries(rawEnv)) {
        const problem = envKeyProblem(k);
        if (problem) {
          problems.push(`${place}.env key ${showValue(k)} ${problem}`);
          ok = false;
        } else if (typeof v !== 'string') {
          problems.push(`${place}.env.${k} must be a string, not ${showValue(v)} (quote it)`);
          ok = false;
        } else {
          env.push([k, v]);
        }
      }
    }
  }
  if (!ok) return undefined;
  // fromEntries defines own properties, so a key such as __proto__ stays a plain key.
  return { resourceName: resourceName as string, instanceID: instanceID as string, env: Object.fromEntries(env) };
}

function sameEnv(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a[k]);
}

// ---------------------------------------------------------------- dev (smarter-device-manager)

const DEV_KEYS = ['prefix', 'devices', 'file'] as const;
const ITEM_KEYS = ['devicematch', 'nummaxdevices'] as const;

/** deviceplugin.dev: prefix + smarter's list, inline or `{file: /path, prefix?}` (smarter's conf.yaml). */
export function readDevSection(value: unknown, included: IncludedFiles, problems: string[]): DevConfig | undefined {
  const key = 'deviceplugin.dev';
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    problems.push(`${key} must be a mapping (prefix, devices: [...], or file: /path/to/conf.yaml), not ${showValue(value)}`);
    return undefined;
  }
  unknownKeys(value, DEV_KEYS, (k) => `${key}.${k}`, problems);
  const prefix = readPrefix(value, 'prefix', `${key}.prefix`, DEFAULT_DEV_PREFIX, problems);
  const form = fileForm(value, key, problems);
  if (form === 'invalid') return undefined;
  if (form !== undefined) {
    if (Object.hasOwn(value, 'devices')) {
      problems.push(`${key} has both file and devices; keep one (the file holds smarter-device-manager's own list)`);
      return undefined;
    }
    const got = includedValue(`${key}.file`, form.file, included, problems);
    if (got === undefined) return undefined;
    return { prefix, devices: readDevList(got.value, form.file, problems), file: form.file };
  }
  return { prefix, devices: readDevList(value['devices'], undefined, problems), file: undefined };
}

/** A resource-name prefix key: the fallback when absent, with a problem when it is no usable domain. */
export function readPrefix(obj: Obj, key: string, place: string, fallback: string, problems: string[]): string {
  const raw = obj[key];
  if (raw === undefined || raw === null) return fallback;
  const problem = typeof raw !== 'string' ? 'must be a string' : devPrefixProblem(raw);
  if (problem === undefined) return raw as string;
  problems.push(`${place} ${showValue(raw)} ${problem.replace('e.g. smarter-devices', `e.g. ${fallback}`)}`);
  return fallback;
}

/** Why a resource prefix is unusable, or undefined. */
export function devPrefixProblem(prefix: string): string | undefined {
  if (!isDnsSubdomain(prefix)) return 'is not a DNS subdomain (lowercase letters, digits, "-" and ".", e.g. smarter-devices)';
  const problem = extendedResourceNameProblem(`${prefix}/x`);
  return problem === undefined ? undefined : `cannot prefix a resource name: ${problem}`;
}

function readDevList(value: unknown, file: string | undefined, problems: string[]): DevMatch[] {
  const list = file === undefined ? peerPlace('dev', undefined, 'devices') : `deviceplugin.dev.file ${file}`;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`${list} must be a list of {devicematch, nummaxdevices} (smarter-device-manager's format), not ${showValue(value)}`);
    return [];
  }
  const out: DevMatch[] = [];
  value.forEach((item: unknown, i) => {
    const place = devItemPlace(file, i);
    if (!isObj(item)) {
      problems.push(`${place} must be a mapping with devicematch and nummaxdevices, not ${showValue(item)}`);
      return;
    }
    unknownKeys(item, ITEM_KEYS, (k) => `${place}.${k}`, problems);
    let ok = true;
    const match = item['devicematch'];
    if (typeof match !== 'string' || match === '') {
      problems.push(`${place}.devicematch ${match === undefined ? 'is missing' : `must be a regular expression, not ${showValue(match)}`}; e.g. devicematch: ^ttyUSB[0-9]+$`);
      ok = false;
    } else {
      const problem = devMatchProblem(match);
      if (problem) {
        problems.push(`${place}.devicematch ${showValue(match)} ${problem}`);
        ok = false;
      }
    }
    let shares = 0;
    const n = item['nummaxdevices'];
    if (n !== undefined && n !== null) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
        problems.push(`${place}.nummaxdevices ${showValue(n)} must be a whole number of shares, 0 or more (0 registers the entry with no devices)`);
        ok = false;
      } else if (n > MAX_SHARES) {
        problems.push(`${place}.nummaxdevices ${n} must be at most ${MAX_SHARES}`);
        ok = false;
      } else {
        shares = n;
      }
    }
    if (ok) out.push({ devicematch: match as string, nummaxdevices: shares });
  });
  return out;
}

/**
 * RE2 (Go's regexp, what smarter-device-manager compiles) syntax that JavaScript either rejects
 * with a puzzling message or, worse, reads as something else: `\z` and `\A` are plain letters to
 * JavaScript, and `[[:digit:]]` a set of punctuation. Each gets its own sentence.
 */
function re2Problem(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const e = source[i + 1] ?? '';
      if (e === 'z') return 'uses \\z (RE2: end of text); write $ instead';
      if (e === 'A') return 'uses \\A (RE2: start of text); write ^ instead';
      if (e === 'Q') return 'uses \\Q…\\E (RE2: quoted text); escape each special character with \\ instead';
      if (e === 'p' || e === 'P') return `uses \\${e} (RE2: Unicode class); list the characters instead, e.g. [A-Za-z]`;
      if (e === 'C') return 'uses \\C (RE2: any byte); write . instead';
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && source[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(i));
        if (m) return `uses the POSIX class [:${m[2]}:] (RE2 syntax, which JavaScript reads as a set of punctuation); write ${posixHint(m[2] ?? '')} instead`;
      }
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (source[i + 1] === '^') i++;
      if (source[i + 1] === ']') return 'starts a bracket set with ] (a member in RE2, an empty set in JavaScript); escape it as \\]';
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith('P<')) return 'uses (?P<name>…) (RE2 named group); write (?<name>…) instead';
      const flags = /^([a-zA-Z-]+)[:)]/.exec(rest);
      if (flags && !/^[=!<]/.test(rest)) {
        if (i === 0 && rest[(flags[1] ?? '').length] === ')' && /^[ims]+$/.test(flags[1] ?? '')) continue;
        return `uses the flag group (?${flags[1]}${rest[(flags[1] ?? '').length]}…; only a leading (?i), (?m) or (?s) (or a mix of them) is understood, for the whole expression`;
      }
    }
  }
  return undefined;
}

function posixHint(name: string): string {
  const hints: Record<string, string> = { digit: '0-9 (inside the brackets)', alpha: 'A-Za-z', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s', xdigit: '0-9A-Fa-f', word: '\\w' };
  return hints[name] ?? 'the characters themselves';
}

/** A leading RE2 flag group such as (?i) becomes the JavaScript flags of the whole expression. */
function splitFlags(source: string): { body: string; flags: string } {
  const m = /^\(\?([ims]+)\)/.exec(source);
  if (!m) return { body: source, flags: '' };
  return { body: source.slice(m[0].length), flags: [...new Set(m[1])].join('') };
}

/** Why a devicematch cannot be used, or undefined. */
export function devMatchProblem(source: string): string | undefined {
  const re2 = re2Problem(source);
  if (re2) return re2;
  const { body, flags } = splitFlags(source);
  try {
    new RegExp(body, flags);
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(err);
    return `is not a valid regular expression (${why}); fix it, or quote it in YAML if it holds ': ' or '#'`;
  }
}

/**
 * Compiles a devicematch validated by devMatchProblem. Unanchored, as smarter matches: users
 * anchor with ^…$ themselves. Never global, so test() holds no state between entries.
 */
export function compileDevMatch(source: string): RegExp {
  const { body, flags } = splitFlags(source);
  return new RegExp(body, flags);
}
