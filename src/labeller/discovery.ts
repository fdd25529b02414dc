// Discovery: the labels this host should carry, as a pure function of a filesystem root and the config.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LabellerConfig } from '../common/config.js';
import { isValidLabelKey } from '../common/labels.js';
import { canonicalHex, chooseBoard, type HartIds } from './boards.js';
import { toLabelValue } from './label-value.js';

export const LABEL_PREFIX = 'riseproject.dev/';
export const BOARD_LABEL = `${LABEL_PREFIX}board`;
export const HARTS_LABEL = `${LABEL_PREFIX}harts`;
export const UARCH_LABEL = `${LABEL_PREFIX}uarch`;
export const ISA_LABEL_PREFIX = `${LABEL_PREFIX}isa.`;
export const CPU_LABEL_PREFIX = `${LABEL_PREFIX}cpu.`;
export const DEVICETREE_LABEL_PREFIX = 'beta.devicetree.org/';

/** T-Head's JEDEC vendor id: its C9xx cores implement vector 0.7.1, not the ratified RVV 1.0. */
export const THEAD_MVENDORID = '0x5b7';

/** The devicetree directories, in the order the kernel's interfaces are tried. */
const DEVICETREE_DIRS = ['sys/firmware/devicetree/base', 'proc/device-tree'] as const;

export interface Discovery {
  /** Label key → value, every key and value valid. */
  labels: Record<string, string>;
  /** Things an operator should know (no devicetree, unreadable cpuinfo); discovery itself never fails. */
  warnings: string[];
  /** Which rule chose the board label, when there is one. */
  boardRule?: string;
  /** Whether the root has a devicetree at all (a RISC-V board has; an x86 laptop has not). */
  hasDevicetree: boolean;
}

export interface Hart {
  processor: string;
  isa: string | undefined;
  uarch: string | undefined;
  /** Canonical `0x` hex, as in the board tables; undefined when absent or not hex. */
  mvendorid: string | undefined;
  marchid?: string | undefined;
  mimpid?: string | undefined;
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
  return chooseBoard({ scheme: 'original', hartIds: undefined, compatible: entries, boardMap }).board;
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
      mvendorid: canonicalHex(fields.get('mvendorid')),
      marchid: canonicalHex(fields.get('marchid')),
      mimpid: canonicalHex(fields.get('mimpid')),
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

/**
 * The first hart's IDs, as the fleet's labeller takes them: on parts whose cores differ (big.LITTLE)
 * the harts disagree, and the first is what riscv_hwprobe reports for CPU 0. Undefined unless the
 * kernel printed all three.
 */
export function firstHartIds(harts: readonly Hart[]): HartIds | undefined {
  const first = harts[0];
  if (first?.mvendorid === undefined || first.marchid === undefined || first.mimpid === undefined) return undefined;
  return { mvendorid: first.mvendorid, marchid: first.marchid, mimpid: first.mimpid };
}

/** True when some hart's IDs differ from the first one's. */
export function hartsDisagree(harts: readonly Hart[]): boolean {
  const key = (h: Hart): string => `${h.mvendorid ?? ''}:${h.marchid ?? ''}:${h.mimpid ?? ''}`;
  const first = harts[0];
  return first !== undefined && harts.some((h) => key(h) !== key(first));
}

/** Labels from /proc/cpuinfo: extensions every hart has, the hart count, the first hart's uarch and IDs. */
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
  if (families.cpu) {
    const first = harts[0];
    for (const id of ['mvendorid', 'marchid', 'mimpid'] as const) {
      // Canonical hex without "0x": at most 16 hex digits, a valid label value by construction.
      const value = first?.[id]?.slice(2);
      if (value !== undefined) labels[`${CPU_LABEL_PREFIX}${id}`] = value;
    }
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

/** The first devicetree interface present under root, or undefined when the root has none. */
async function devicetreeDir(root: string): Promise<string | undefined> {
  for (const dir of DEVICETREE_DIRS) {
    const full = path.join(root, dir);
    try {
      if ((await stat(full)).isDirectory()) return full;
    } catch {
      // Absent here: try the next interface.
    }
  }
  return undefined;
}

/** The node's own name and, for `gpu@0`, the part before "@": what a bare name in devicetreeNodes matches. */
function nodeNameMatches(dirName: string, wanted: string): boolean {
  return wanted.includes('@') ? dirName === wanted : dirName.split('@')[0] === wanted;
}

/**
 * Paths (from the devicetree root, "/"-separated) of every node whose name matches, anywhere in the
 * tree, as k8s-dt-node-labeller finds its -n names. Symbolic links are not followed, so a loop in a
 * copied tree cannot make it run forever.
 */
export async function findDevicetreeNodes(dtDir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path.join(dtDir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!entry.isDirectory()) continue;
      const child = `${rel}/${entry.name}`;
      if (nodeNameMatches(entry.name, name)) found.push(child);
      await walk(child);
    }
  };
  await walk('');
  return found;
}

/** Labels from labeller.devicetreeNodes: paths read as given, names looked up across the tree. */
async function extraDevicetreeLabels(root: string, nodes: readonly string[], warnings: string[]): Promise<Record<string, string>> {
  const labels: Record<string, string> = {};
  for (const node of nodes) {
    if (node.startsWith('/')) {
      const entries = await readCompatible(root, node);
      if (entries === undefined) warnings.push(`devicetree node ${node} has no compatible property: no labels from it`);
      else Object.assign(labels, devicetreeLabels(entries));
      continue;
    }
    const dtDir = await devicetreeDir(root);
    const paths = dtDir === undefined ? [] : await findDevicetreeNodes(dtDir, node);
    let any = false;
    for (const found of paths) {
      const entries = await readCompatible(root, found);
      if (entries === undefined) continue;
      any = true;
      Object.assign(labels, devicetreeLabels(entries));
    }
    if (!any) {
      warnings.push(
        `devicetree node name ${node} ${paths.length === 0 ? 'matches no node' : `matches ${paths.join(', ')}, none with a compatible property`}: no labels from it`,
      );
    }
  }
  return labels;
}

/** Reads /proc/cpuinfo; undefined, with a warning when CPU labels were wanted, if it cannot be read. */
async function readHarts(root: string, wanted: boolean, warnings: string[]): Promise<Hart[] | undefined> {
  const file = path.join(root, 'proc', 'cpuinfo');
  let text: string;
  try {
    text = await readFile(file, 'latin1');
  } catch (err) {
    if (wanted) warnings.push(`failed to read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; no CPU labels`);
    return undefined;
  }
  const harts = parseCpuinfo(text);
  if (harts.length === 0 && wanted) warnings.push(`${file} lists no processor: no CPU labels`);
  return harts;
}

/** Everything discovery finds under `root`; reads files only, never fails, reports what is missing. */
export async function discoverLabels(root: string, config: LabellerConfig): Promise<Discovery> {
  const labels: Record<string, string> = {};
  const warnings: string[] = [];
  const families = config.labels;
  const result: Discovery = { labels, warnings, hasDevicetree: (await devicetreeDir(root)) !== undefined };

  const cpuWanted = families.isa || families.harts || families.uarch || families.cpu;
  // The board may be named by its hart IDs, so the board alone needs cpuinfo too.
  const harts = cpuWanted || families.board ? await readHarts(root, cpuWanted, warnings) : undefined;

  if (families.board || families.devicetree) {
    const compatible = await readCompatible(root);
    const entries = compatible ?? [];
    if (families.board) {
      const ids = firstHartIds(harts ?? []);
      const choice = chooseBoard({ scheme: config.boardNames, hartIds: ids, compatible: entries, boardMap: config.boardMap });
      if (choice.board !== undefined) {
        labels[BOARD_LABEL] = choice.board;
        const mixed = choice.by === 'hart IDs' && hartsDisagree(harts ?? []) ? ' (the harts differ: the first one counts, as the fleet takes it)' : '';
        result.boardRule = `${BOARD_LABEL}=${choice.board}: ${choice.rule}${mixed}`;
      } else if (config.boardNames === 'fleet') {
        const where = entries.length > 0 ? '' : ` (${missingCompatible(root, compatible)})`;
        warnings.push(`${choice.problem}${where}: no ${BOARD_LABEL} label; labeller.boardNames fleet never guesses a name: add the board to labeller.boardMap`);
      } else if (entries.length > 0) {
        warnings.push(`${choice.problem}: no ${BOARD_LABEL} label`);
      } else {
        warnings.push(`no devicetree compatible found (${missingCompatible(root, compatible)}): no ${BOARD_LABEL} label`);
      }
    } else if (entries.length === 0) {
      warnings.push(`no devicetree compatible found (${missingCompatible(root, compatible)}): no ${DEVICETREE_LABEL_PREFIX}* labels from /`);
    }
    if (families.devicetree) {
      Object.assign(labels, devicetreeLabels(entries));
      Object.assign(labels, await extraDevicetreeLabels(root, config.devicetreeNodes, warnings));
    }
  }

  if (harts !== undefined && cpuWanted) Object.assign(labels, cpuLabels(harts, families));
  result.labels = sortedLabels(labels);
  return result;
}

function missingCompatible(root: string, compatible: string[] | undefined): string {
  const where = DEVICETREE_DIRS.map((d) => path.join(root, d, 'compatible')).join(' or ');
  return `${where} ${compatible === undefined ? 'missing' : 'empty'}`;
}

/** Same labels, keys in order, so output and comparisons are stable. */
export function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] ?? '';
  return out;
}
