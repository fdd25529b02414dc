// Discovery: the labels this host should carry, as a pure function of a filesystem root and the config.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LabellerConfig } from '../common/config.js';
import { isValidLabelKey } from '../common/labels.js';
import { toLabelValue } from './label-value.js';

export const LABEL_PREFIX = 'riseproject.dev/';
export const BOARD_LABEL = `${LABEL_PREFIX}board`;
export const HARTS_LABEL = `${LABEL_PREFIX}harts`;
export const UARCH_LABEL = `${LABEL_PREFIX}uarch`;
export const ISA_LABEL_PREFIX = `${LABEL_PREFIX}isa.`;
export const DEVICETREE_LABEL_PREFIX = 'beta.devicetree.org/';

/** Boards the original labeller knew; config entries are added to these and win over them. */
export const BUILTIN_BOARD_MAP: Readonly<Record<string, string>> = {
  'scaleway,em-rv1-c4m16s128-a': 'scw-em-rv1',
  'sophgo,mango': 'cloudv10x-pioneer',
  'spacemit,k1-x': 'cloudv10x-jupiter',
};

/** T-Head's JEDEC vendor id: its C9xx cores implement vector 0.7.1, not the ratified RVV 1.0. */
export const THEAD_MVENDORID = '0x5b7';

/** The devicetree directories, in the order the kernel's interfaces are tried. */
const DEVICETREE_DIRS = ['sys/firmware/devicetree/base', 'proc/device-tree'] as const;

export interface Discovery {
  /** Label key → value, every key and value valid. */
  labels: Record<string, string>;
  /** Things an operator should know (no devicetree, unreadable cpuinfo); discovery itself never fails. */
  warnings: string[];
}

export interface Hart {
  processor: string;
  isa: string | undefined;
  uarch: string | undefined;
  mvendorid: string | undefined;
}

/** Splits a devicetree string list: NUL-separated, entries trimmed, empty entries dropped. */
export function parseCompatible(bytes: Uint8Array | string): string[] {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('latin1');
  return text
    .split('\0')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/**
 * The board label for a compatible list: the first entry the map knows, else the first entry made
 * into a label value; undefined when there is no entry or nothing valid is left of it.
 */
export function boardLabelFor(entries: readonly string[], boardMap: Readonly<Record<string, string>>): string | undefined {
  const map: Record<string, string> = { ...BUILTIN_BOARD_MAP, ...boardMap };
  for (const entry of entries) {
    const known = Object.prototype.hasOwnProperty.call(map, entry) ? map[entry] : undefined;
    if (known !== undefined) return known;
  }
  const first = entries[0];
  return first === undefined ? undefined : toLabelValue(first);
}

/** Reads `compatible` of a devicetree node (path "/" is the root) from the first interface present. */
export async function readCompatible(root: string, node = '/'): Promise<string[] | undefined> {
  for (const dir of DEVICETREE_DIRS) {
    const file = path.join(root, dir, node, 'compatible');
    try {
      // latin1 keeps every byte as one character, so garbage cannot make the decoder throw.
      return parseCompatible(await readFile(file));
    } catch {
      // Absent here: try the next interface.
    }
  }
  return undefined;
}

/** Parses /proc/cpuinfo into one record per hart; blocks without `processor` are ignored. */
export function parseCpuinfo(text: string): Hart[] {
  const harts: Hart[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const processor = fields.get('processor');
    if (processor === undefined) continue;
    harts.push({
      processor,
      isa: fields.get('isa'),
      uarch: fields.get('uarch'),
      mvendorid: fields.get('mvendorid')?.toLowerCase(),
    });
  }
  return harts;
}

/**
 * The extensions named by a riscv `isa` string: single letters after rv32/rv64/rv128, then each
 * `_`-separated multi-letter extension. `g` stands for imafd plus zicsr and zifencei.
 */
export function isaExtensions(isa: string): Set<string> {
  const out = new Set<string>();
  const parts = isa.trim().toLowerCase().split('_').filter((p) => p !== '');
  const base = parts.shift();
  if (base === undefined) return out;
  const match = /^rv(?:32|64|128)([a-z]*)$/.exec(base);
  if (match) {
    for (const letter of match[1] ?? '') {
      if (letter === 'g') {
        for (const e of ['i', 'm', 'a', 'f', 'd', 'zicsr', 'zifencei']) out.add(e);
      } else {
        out.add(letter);
      }
    }
  } else {
    // Not a base we know: keep it as an extension name rather than lose what follows.
    parts.unshift(base);
  }
  for (const ext of parts) out.add(ext);
  return out;
}

/** Extensions of one hart, with T-Head's pre-ratification vector named for what it is. */
export function hartExtensions(hart: Hart): Set<string> {
  const exts = isaExtensions(hart.isa ?? '');
  if (hart.mvendorid === THEAD_MVENDORID && exts.has('v')) {
    // Vendor kernels print `v` for the 0.7.1 vector unit; upstream calls it xtheadvector.
    exts.delete('v');
    exts.add('xtheadvector');
  }
  return exts;
}

/** Labels from /proc/cpuinfo: extensions every hart has, the hart count, the first hart's uarch. */
export function cpuLabels(harts: readonly Hart[], families: LabellerConfig['labels']): Record<string, string> {
  const labels: Record<string, string> = {};
  if (harts.length === 0) return labels;
  if (families.isa) {
    let common: Set<string> | undefined;
    for (const hart of harts) {
      const exts = hartExtensions(hart);
      common = common === undefined ? exts : new Set([...common].filter((e) => exts.has(e)));
    }
    for (const ext of [...(common ?? [])].sort()) {
      const name = toLabelValue(ext);
      const key = `${ISA_LABEL_PREFIX}${name ?? ''}`;
      if (name !== undefined && isValidLabelKey(key)) labels[key] = 'true';
    }
  }
  if (families.harts) labels[HARTS_LABEL] = String(harts.length);
  if (families.uarch) {
    const uarch = harts.find((h) => h.uarch !== undefined)?.uarch;
    const value = uarch === undefined ? undefined : toLabelValue(uarch);
    if (value !== undefined) labels[UARCH_LABEL] = value;
  }
  return labels;
}

/** `beta.devicetree.org/<vendor-model>=1` for each compatible entry, as k8s-dt-node-labeller names them. */
export function devicetreeLabels(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const name = toLabelValue(entry);
    const key = `${DEVICETREE_LABEL_PREFIX}${name ?? ''}`;
    if (name !== undefined && isValidLabelKey(key)) labels[key] = '1';
  }
  return labels;
}

/** Everything discovery finds under `root`; reads files only, never fails, reports what is missing. */
export async function discoverLabels(root: string, config: LabellerConfig): Promise<Discovery> {
  const labels: Record<string, string> = {};
  const warnings: string[] = [];
  const families = config.labels;

  if (families.board || families.devicetree) {
    const compatible = await readCompatible(root);
    if (compatible === undefined || compatible.length === 0) {
      const where = DEVICETREE_DIRS.map((d) => path.join(root, d, 'compatible')).join(' or ');
      warnings.push(
        `no devicetree compatible found (${where} ${compatible === undefined ? 'missing' : 'empty'}): no ${BOARD_LABEL} label`,
      );
    } else {
      if (families.board) {
        const board = boardLabelFor(compatible, config.boardMap);
        if (board !== undefined) labels[BOARD_LABEL] = board;
        else warnings.push(`devicetree compatible ${JSON.stringify(compatible[0])} leaves no valid label value: no ${BOARD_LABEL} label`);
      }
      if (families.devicetree) Object.assign(labels, devicetreeLabels(compatible));
    }
    if (families.devicetree) {
      for (const node of config.devicetreeNodes) {
        const entries = await readCompatible(root, node);
        if (entries === undefined) warnings.push(`devicetree node ${node} has no compatible property: no labels from it`);
        else Object.assign(labels, devicetreeLabels(entries));
      }
    }
  }

  if (families.isa || families.harts || families.uarch) {
    const file = path.join(root, 'proc', 'cpuinfo');
    let text: string | undefined;
    try {
      text = await readFile(file, 'latin1');
    } catch (err) {
      warnings.push(`failed to read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; no CPU labels`);
    }
    if (text !== undefined) {
      const harts = parseCpuinfo(text);
      if (harts.length === 0) warnings.push(`${file} lists no processor: no CPU labels`);
      Object.assign(labels, cpuLabels(harts, families));
    }
  }
  return { labels: sortedLabels(labels), warnings };
}

/** Same labels, keys in order, so output and comparisons are stable. */
export function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] ?? '';
  return out;
}
