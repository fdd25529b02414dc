// Board names: which board this is, from hart IDs and the devicetree, in the original or the fleet's scheme.
import { HART_ID_TRIPLE_RE, type BoardNames } from '../common/config.js';
import { toLabelValue } from './label-value.js';

/** The values the kernel prints as mvendorid, marchid and mimpid, each as canonical `0x` hex. */
export interface HartIds {
  mvendorid: string;
  marchid: string;
  mimpid: string;
}

/** Boards the original labeller knew, by exact devicetree `compatible` entry. */
export const ORIGINAL_BOARD_MAP: Readonly<Record<string, string>> = {
  'scaleway,em-rv1-c4m16s128-a': 'scw-em-rv1',
  'sophgo,mango': 'cloudv10x-pioneer',
  'spacemit,k1-x': 'cloudv10x-jupiter',
};

/** The fleet's boards by hart-ID triple (`mvendorid:marchid:mimpid`), tried first. */
export const FLEET_HART_IDS: Readonly<Record<string, string>> = {
  '0x710:0x8000000058000001:0x1000000049772200': 'spacemit-k1',
  '0x710:0x8000000058000002:0x33d8a600': 'spacemit-k3',
  '0x710:0x8000000058000002:0x4c4d900': 'spacemit-v100',
};

/** The fleet's boards by devicetree `compatible` prefix, tried when the hart IDs name none. */
export const FLEET_COMPATIBLE_PREFIXES: Readonly<Record<string, string>> = {
  'spacemit,k3': 'spacemit-k3',
  'scaleway,em-rv1': 'scaleway-em-rv1',
  'zhihe,a210': 'zhihe-a210',
};

/** `0x0710` and `0X710` are the same ID: one spelling, so table keys and cpuinfo compare equal. */
export function canonicalHex(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim().toLowerCase();
  if (!/^0x[0-9a-f]{1,16}$/.test(text)) return undefined;
  return `0x${BigInt(text).toString(16)}`;
}

/** The key a triple is written as in the tables and in labeller.boardMap. */
export function hartIdKey(ids: HartIds): string {
  return `${ids.mvendorid}:${ids.marchid}:${ids.mimpid}`;
}

/** Reads a `0x710:0x…:0x…` key, or undefined when the key is a devicetree compatible value. */
export function parseHartIdKey(key: string): HartIds | undefined {
  if (!HART_ID_TRIPLE_RE.test(key)) return undefined;
  const [mvendorid, marchid, mimpid] = key.split(':').map((part) => canonicalHex(part));
  if (mvendorid === undefined || marchid === undefined || mimpid === undefined) return undefined;
  return { mvendorid, marchid, mimpid };
}

export interface BoardInput {
  scheme: BoardNames;
  /** The first hart's IDs; undefined on kernels that do not print them. */
  hartIds: HartIds | undefined;
  /** The root node's compatible entries, most specific first; empty without a devicetree. */
  compatible: readonly string[];
  /** labeller.boardMap: compatible value or hart-ID triple → board name. */
  boardMap: Readonly<Record<string, string>>;
}

export type BoardChoice =
  | { board: string; by: 'hart IDs' | 'compatible' | 'fallback'; rule: string }
  | { board: undefined; problem: string };

interface Table {
  name: string;
  hartIds: Map<string, string>;
  compatible: Map<string, string>;
  /** Fleet tables match a compatible entry by prefix, the original one by the whole entry. */
  prefix: boolean;
}

function configTable(boardMap: Readonly<Record<string, string>>, prefix: boolean): Table {
  const table: Table = { name: 'labeller.boardMap', hartIds: new Map(), compatible: new Map(), prefix };
  for (const [key, board] of Object.entries(boardMap)) {
    const ids = parseHartIdKey(key);
    if (ids !== undefined) table.hartIds.set(hartIdKey(ids), board);
    else table.compatible.set(key, board);
  }
  return table;
}

function builtinTable(scheme: BoardNames): Table {
  if (scheme === 'fleet') {
    return {
      name: 'the fleet table',
      hartIds: new Map(Object.entries(FLEET_HART_IDS)),
      compatible: new Map(Object.entries(FLEET_COMPATIBLE_PREFIXES)),
      prefix: true,
    };
  }
  return { name: 'the original table', hartIds: new Map(), compatible: new Map(Object.entries(ORIGINAL_BOARD_MAP)), prefix: false };
}

/** The key of a table that matches one compatible entry: the entry itself, or its longest prefix. */
function compatibleMatch(table: Table, entry: string): string | undefined {
  if (!table.prefix) return table.compatible.has(entry) ? entry : undefined;
  let best: string | undefined;
  for (const key of table.compatible.keys()) {
    if (entry.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best;
}

const quoted = (entries: readonly string[]): string => entries.map((e) => `'${e}'`).join(', ');

/**
 * Names the board. Both schemes try, in order: the hart-ID triple, then each compatible entry
 * (most specific first); at each step labeller.boardMap before the built-in table. `original`
 * matches whole entries and falls back to the first entry made into a value; `fleet` matches
 * prefixes and never guesses, as the fleet's control plane counts runners per exact board name.
 */
export function chooseBoard(input: BoardInput): BoardChoice {
  const tables = [configTable(input.boardMap, input.scheme === 'fleet'), builtinTable(input.scheme)];
  const ids = input.hartIds === undefined ? undefined : hartIdKey(input.hartIds);
  if (ids !== undefined) {
    for (const table of tables) {
      const board = table.hartIds.get(ids);
      if (board !== undefined) return { board, by: 'hart IDs', rule: `hart IDs ${ids} (mvendorid:marchid:mimpid of the first hart) are in ${table.name}` };
    }
  }
  for (const entry of input.compatible) {
    for (const table of tables) {
      const key = compatibleMatch(table, entry);
      const board = key === undefined ? undefined : table.compatible.get(key);
      if (key === undefined || board === undefined) continue;
      const how = key === entry ? `devicetree compatible '${entry}'` : `devicetree compatible '${entry}' starts with '${key}', which`;
      return { board, by: 'compatible', rule: `${how} is in ${table.name}` };
    }
  }
  const first = input.compatible[0];
  if (input.scheme === 'original') {
    const board = first === undefined ? undefined : toLabelValue(first);
    if (board !== undefined) return { board, by: 'fallback', rule: `no table knows devicetree compatible ${quoted(input.compatible)}: the first entry made into a label value` };
    const what = first === undefined ? 'no devicetree compatible' : `devicetree compatible ${JSON.stringify(first)} leaves no valid label value`;
    return { board: undefined, problem: what };
  }
  const dt = first === undefined ? undefined : `devicetree compatible ${quoted(input.compatible)}`;
  const hart = ids === undefined ? undefined : `hart IDs ${ids}`;
  const what =
    hart !== undefined && dt !== undefined
      ? `neither the fleet table nor labeller.boardMap knows ${hart} or ${dt}`
      : hart !== undefined
        ? `neither the fleet table nor labeller.boardMap knows ${hart}, and there is no devicetree compatible`
        : dt !== undefined
          ? `neither the fleet table nor labeller.boardMap knows ${dt}, and /proc/cpuinfo shows no hart IDs`
          : 'there are no hart IDs in /proc/cpuinfo and no devicetree compatible';
  return { board: undefined, problem: what };
}
