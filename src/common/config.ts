// The configuration file: every key optional, defaults documented here, every error naming file and key.
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors.js';
import { isLogLevel, type LogLevel } from './logger.js';
import { extendedResourceNameProblem, isDnsSubdomain, isValidLabelValue } from './labels.js';
import { includedPaths, readBool, readDevSection, readVirtualSection, showValue, type IncludedFiles } from './peer-config.js';
import { readPciSection, type PciConfig } from './pci-config.js';

export const DEFAULT_CONFIG_FILE = '/etc/riscv-runner-node/config.yaml';

export interface DevicePluginConfig {
  /** Extended resource the plugin advertises. */
  resourceName: string;
  /** Devices runner-0 … runner-(N-1); 1 makes the board one runner slot. */
  deviceCount: number;
  /** Our socket's file name inside the device-plugins directory. */
  socketName: string;
  /** While this file exists every device is Unhealthy: the board takes no new runners. */
  maintenanceFile: string;
  /** Environment added to every container that is allocated a runner device. */
  allocateEnv: Record<string, string>;
  /** spookd's virtual devices (deviceplugin.virtual), inline or read from its own file. */
  virtual: VirtualConfig | undefined;
  /** smarter-device-manager's /dev entries (deviceplugin.dev), inline or read from its own file. */
  dev: DevConfig | undefined;
  /** The SR-IOV Network Device Plugin's PCI pools (deviceplugin.pci), inline or read from its own file. */
  pci: PciConfig | undefined;
  /**
   * Not a key of its own: dra.resources, as the device plugin sees it. These resources are the
   * DRA driver's, so the plugin leaves them out, and any resource sharing a device node with them.
   */
  handedToDra?: readonly string[];
  /** Prometheus metrics and /healthz (deviceplugin.metrics); undefined: off. Read at start only. */
  metrics: MetricsConfig | undefined;
}

/** Where a daemon's metrics go (deviceplugin.metrics, labeller.metrics); at least one is set. */
export interface MetricsConfig {
  /** `127.0.0.1:PORT`, `[::1]:PORT` or `unix:/absolute/path.sock`: serves /metrics and /healthz. */
  listen: string | undefined;
  /** A node_exporter textfile-collector file (`*.prom`), rewritten when a value changes. */
  textfile: string | undefined;
}

/** A validated `listen` value, as the metrics server binds it. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** The longest path a unix socket may have (sun_path holds 108 bytes with the NUL). */
export const MAX_UNIX_SOCKET_PATH = 107;

/** One device of a spookd mapping: a resource name, an instance ID, and the env it gives. */
export interface VirtualDevice {
  resourceName: string;
  instanceID: string;
  env: Record<string, string>;
}

export interface VirtualMapping {
  /** Host (or Node) names the mapping applies to, compared case-insensitively. */
  hosts: string[];
  devices: VirtualDevice[];
}

export interface VirtualConfig {
  deviceMapping: VirtualMapping[];
  /** Where it was read, for messages: the peer's own file, or undefined when inline. */
  file: string | undefined;
}

/** One smarter-device-manager item: an unanchored regular expression over /dev entries. */
export interface DevMatch {
  devicematch: string;
  /** How many containers may share each matched entry; 0 registers it with no devices. */
  nummaxdevices: number;
}

export interface DevConfig {
  /** Resource prefix, smarter's "smarter-devices". */
  prefix: string;
  devices: DevMatch[];
  /** Where the list was read, for messages: smarter's own conf.yaml, or undefined when inline. */
  file: string | undefined;
}

export interface LabelFamilies {
  /** riseproject.dev/board from the devicetree. */
  board: boolean;
  /** riseproject.dev/isa.<ext>=true for each extension all harts share. */
  isa: boolean;
  /** riseproject.dev/harts=<count>. */
  harts: boolean;
  /** riseproject.dev/uarch=<uarch> when the kernel reports it. */
  uarch: boolean;
  /** beta.devicetree.org/<vendor-model>=1 per compatible entry, as k8s-dt-node-labeller does. */
  devicetree: boolean;
  /** riseproject.dev/cpu.{mvendorid,marchid,mimpid}=<hex> of the first hart. */
  cpu: boolean;
}

/** `original`: the first board map, unknown boards named after their devicetree; `fleet`: the RISE fleet's names, never guessed. */
export type BoardNames = 'original' | 'fleet';
export const BOARD_NAMES: readonly BoardNames[] = ['original', 'fleet'];

/** A labeller.boardMap key naming a board by its hart IDs: `0x<mvendorid>:0x<marchid>:0x<mimpid>`. */
export const HART_ID_TRIPLE_RE = /^0x[0-9a-f]{1,16}:0x[0-9a-f]{1,16}:0x[0-9a-f]{1,16}$/i;

export interface LabellerConfig {
  /** Which built-in board table and rules name the board. */
  boardNames: BoardNames;
  /** devicetree compatible value or hart-ID triple → board label value; tried before the built-in table. */
  boardMap: Record<string, string>;
  labels: LabelFamilies;
  /**
   * Extra devicetree nodes whose compatible entries become devicetree labels: a path ("/soc/gpu@0"),
   * or a node name ("gpu") that matches every node of that name before "@", anywhere in the tree.
   */
  devicetreeNodes: string[];
  /** When set, also write these labels as a Node Feature Discovery local feature file. */
  nfdFeaturesFile: string | undefined;
  /** How often discovery runs again, so a kernel or firmware change shows up. */
  rediscoverSeconds: number;
  /** Kubeconfig to use instead of the kubelet's own. */
  kubeconfig: string | undefined;
  /** Prometheus metrics and /healthz (labeller.metrics); undefined: off. */
  metrics: MetricsConfig | undefined;
}

/**
 * The DRA driver (`dra-driver`). Which API offers a resource is decided per resource: one named
 * in `resources` is published as DRA devices and no longer advertised by the device plugin;
 * every other one stays with the device plugin. So a device is offered through one API only.
 */
export interface DraConfig {
  /** ResourceSlice.spec.driver and the registration name; also the domain CEL reads attributes under. */
  driverName: string;
  /** Resources (as the device plugin names them, e.g. riseproject.com/runner) published through DRA. */
  resources: string[];
}

export interface Config {
  logLevel: LogLevel;
  /** The Node this host is; defaults to the host name lowercased, as the kubelet does. */
  nodeName: string | undefined;
  deviceplugin: DevicePluginConfig;
  labeller: LabellerConfig;
  dra: DraConfig;
}

export const DEFAULT_DRA_DRIVER = 'runner.riseproject.dev';

export function defaultConfig(): Config {
  return {
    logLevel: 'info',
    nodeName: undefined,
    deviceplugin: {
      resourceName: 'riseproject.com/runner',
      deviceCount: 1,
      socketName: 'rise-riscv-runner.sock',
      maintenanceFile: '/etc/riscv-runner-node/maintenance',
      allocateEnv: {},
      virtual: undefined,
      dev: undefined,
      pci: undefined,
      metrics: undefined,
    },
    labeller: {
      boardNames: 'original',
      boardMap: {},
      labels: { board: true, isa: true, harts: true, uarch: true, devicetree: false, cpu: true },
      devicetreeNodes: [],
      nfdFeaturesFile: undefined,
      rediscoverSeconds: 300,
      kubeconfig: undefined,
      metrics: undefined,
    },
    dra: { driverName: DEFAULT_DRA_DRIVER, resources: [] },
  };
}

export const MAX_DEVICE_COUNT = 256;

export interface LoadOptions {
  /** The operator named the file, so its absence is an error rather than "all defaults". */
  mustExist: boolean;
  /** Where the operator named it, for the fix in the message: "--config" unless said otherwise. */
  namedBy?: string;
}

/**
 * Reads and validates a config file and the peers' files its `file:` keys name, so the Config
 * returned is complete. A missing config file is fine unless the operator named it.
 */
export async function loadConfig(file: string, options: LoadOptions): Promise<Config> {
  return (await loadConfigFile(file, options)).config;
}

/** Like loadConfig, and says whether the file was there (absent: every default). */
export async function loadConfigFile(file: string, options: LoadOptions): Promise<{ config: Config; found: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.mustExist) return { config: defaultConfig(), found: false };
    const fix =
      code === 'EACCES' || code === 'EPERM'
        ? 'run as root or make it readable'
        : `fix the path given to ${options.namedBy ?? '--config'}`;
    throw new ConfigError(`config ${file}: cannot be read (${code ?? String(err)}); ${fix}`);
  }
  const included = new Map<string, { text: string } | { error: string }>();
  for (const path of includedPaths(rawOf(text))) {
    try {
      included.set(path, { text: await readFile(path, 'utf8') });
    } catch (err) {
      included.set(path, { error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
  return { config: parseConfig(text, file, included), found: true };
}

/** The line the parser stopped at and the one before it, numbered, with a caret under the column. */
function yamlContext(text: string, line: number, col: number): string {
  const lines = text.split(/\r?\n/);
  const shown: string[] = [];
  const width = String(line).length;
  for (const n of [line - 1, line]) {
    const content = lines[n - 1];
    if (n < 1 || content === undefined) continue;
    shown.push(`  ${String(n).padStart(width)} | ${content}`);
  }
  if (shown.length > 0) shown.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, col - 1))}^`);
  return shown.join('\n');
}

/** The document as data, or undefined when it does not parse (parseConfig says why). */
function rawOf(text: string): unknown {
  try {
    const doc = parseDocument(text, { uniqueKeys: true });
    return doc.errors.length > 0 ? undefined : (doc.toJS() as unknown);
  } catch {
    return undefined;
  }
}

/**
 * Parses config text; every problem found is reported at once, each naming its key. `included`
 * holds what loadConfig read for each `file:` key; one not in it is reported as unread.
 */
export function parseConfig(text: string, file: string, included: IncludedFiles = new Map()): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first?.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    const what = (first?.message.split('\n')[0] ?? 'parse error').replace(/ at line \d+, column \d+:?$/, '');
    const pos = first?.linePos?.[0];
    // The parser names where it noticed the problem, often a line after the mistake: show both.
    const context = pos ? `\n${yamlContext(text, pos.line, pos.col)}` : '';
    throw new ConfigError(`config ${file}: is not valid YAML${where}: ${what}${context}`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // e.g. the yaml library's guard against alias bombs
    throw new ConfigError(`config ${file}: cannot be read as data: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problems: string[] = [];
  const config = readConfig(raw ?? {}, problems, included);
  if (problems.length > 0) {
    // One line per problem, whatever the values quoted in it hold.
    throw new ConfigError(problems.map((p) => `config ${file}: ${p.replace(/\r?\n/g, '\\n')}`).join('\n'));
  }
  return config;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const show = showValue;

/** Complains about keys this version does not know, so a typo is not silently a default. */
function unknownKeys(obj: Obj, known: readonly string[], prefix: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      problems.push(
        `${prefix}${key} is not a known key${near ? `; did you mean ${prefix}${near}?` : ` (known: ${known.join(', ')})`}`,
      );
    }
  }
}

function section(raw: Obj, key: string, path: string, problems: string[]): Obj {
  const v = raw[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    problems.push(`${path} must be a mapping, not ${show(v)}`);
    return {};
  }
  return v;
}

const bool = readBool;

function str(obj: Obj, key: string, path: string, problems: string[]): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    problems.push(`${path} must be a string, not ${show(v)}`);
    return undefined;
  }
  return v;
}

function stringMap(obj: Obj, key: string, path: string, problems: string[]): Record<string, string> {
  const v = obj[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    problems.push(`${path} must be a mapping of strings, not ${show(v)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') {
      problems.push(`${path}.${k} must be a string, not ${show(val)} (quote it)`);
      continue;
    }
    out[k] = val;
  }
  return out;
}

const TOP_KEYS = ['logLevel', 'nodeName', 'deviceplugin', 'labeller', 'dra'] as const;
const DRA_KEYS = ['driverName', 'resources'] as const;
const DP_KEYS = ['resourceName', 'deviceCount', 'socketName', 'maintenanceFile', 'allocateEnv', 'virtual', 'dev', 'pci', 'metrics'] as const;
const LB_KEYS = ['boardNames', 'boardMap', 'labels', 'devicetreeNodes', 'nfdFeaturesFile', 'rediscoverSeconds', 'kubeconfig', 'metrics'] as const;
const METRICS_KEYS = ['listen', 'textfile'] as const;
const FAMILY_KEYS = ['board', 'isa', 'harts', 'uarch', 'devicetree', 'cpu'] as const;

function readConfig(raw: unknown, problems: string[], included: IncludedFiles): Config {
  const config = defaultConfig();
  if (!isObj(raw)) {
    problems.push(`must be a YAML mapping of keys (${TOP_KEYS.join(', ')}), not ${show(raw)}`);
    return config;
  }
  unknownKeys(raw, TOP_KEYS, '', problems);

  const logLevel = str(raw, 'logLevel', 'logLevel', problems);
  if (logLevel !== undefined) {
    if (isLogLevel(logLevel)) config.logLevel = logLevel;
    else problems.push(`logLevel ${show(logLevel)} is not one of error, warn, info, debug`);
  }
  const nodeName = str(raw, 'nodeName', 'nodeName', problems);
  if (nodeName !== undefined && nodeName !== '') {
    const problem = nodeNameProblem(nodeName);
    if (problem) problems.push(`nodeName ${show(nodeName)} ${problem}`);
    else config.nodeName = nodeName;
  }

  const dp = section(raw, 'deviceplugin', 'deviceplugin', problems);
  unknownKeys(dp, DP_KEYS, 'deviceplugin.', problems);
  const resourceName = str(dp, 'resourceName', 'deviceplugin.resourceName', problems);
  if (resourceName !== undefined) {
    const problem = extendedResourceNameProblem(resourceName);
    if (problem) problems.push(`deviceplugin.resourceName ${show(resourceName)} is not a valid extended resource name: ${problem}`);
    else config.deviceplugin.resourceName = resourceName;
  }
  const count = dp['deviceCount'];
  if (count !== undefined && count !== null) {
    const problem = deviceCountProblem(count);
    if (problem) problems.push(`deviceplugin.deviceCount ${show(count)} ${problem}`);
    else config.deviceplugin.deviceCount = count as number;
  }
  const socketName = str(dp, 'socketName', 'deviceplugin.socketName', problems);
  if (socketName !== undefined) {
    const problem = socketNameProblem(socketName);
    if (problem) problems.push(`deviceplugin.socketName ${show(socketName)} ${problem}`);
    else config.deviceplugin.socketName = socketName;
  }
  const maintenanceFile = str(dp, 'maintenanceFile', 'deviceplugin.maintenanceFile', problems);
  if (maintenanceFile !== undefined) {
    if (!maintenanceFile.startsWith('/')) problems.push(`deviceplugin.maintenanceFile ${show(maintenanceFile)} must be an absolute path`);
    else config.deviceplugin.maintenanceFile = maintenanceFile;
  }
  const env = stringMap(dp, 'allocateEnv', 'deviceplugin.allocateEnv', problems);
  for (const key of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      problems.push(`deviceplugin.allocateEnv key ${show(key)} is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)`);
    }
  }
  config.deviceplugin.allocateEnv = env;
  config.deviceplugin.virtual = readVirtualSection(dp['virtual'], included, problems);
  config.deviceplugin.dev = readDevSection(dp['dev'], included, problems);
  config.deviceplugin.pci = readPciSection(dp['pci'], included, problems);
  config.deviceplugin.metrics = readMetricsSection(dp, 'deviceplugin.metrics', 'rise-device-plugin', problems);

  const lb = section(raw, 'labeller', 'labeller', problems);
  unknownKeys(lb, LB_KEYS, 'labeller.', problems);
  const boardNames = str(lb, 'boardNames', 'labeller.boardNames', problems);
  if (boardNames !== undefined) {
    const known = BOARD_NAMES.find((n) => n === boardNames);
    if (known !== undefined) config.labeller.boardNames = known;
    else problems.push(`labeller.boardNames ${show(boardNames)} is not one of ${BOARD_NAMES.join(', ')}`);
  }
  const boardMap = stringMap(lb, 'boardMap', 'labeller.boardMap', problems);
  for (const [key, label] of Object.entries(boardMap)) {
    if (label === '' || !isValidLabelValue(label)) {
      problems.push(
        `labeller.boardMap.${key} ${show(label)} is not a valid label value (at most 63 characters: letters, digits, '-', '_', '.', alphanumeric at both ends)`,
      );
    }
    // A compatible value never starts with 0x; such a key is a hart-ID triple with a typo.
    if (/^0x/i.test(key) && !HART_ID_TRIPLE_RE.test(key)) {
      problems.push(`labeller.boardMap key ${show(key)} is not a hart-ID triple: write mvendorid:marchid:mimpid in hex, e.g. '0x710:0x8000000058000002:0x33d8a600'`);
    }
  }
  config.labeller.boardMap = boardMap;
  const families = section(lb, 'labels', 'labeller.labels', problems);
  unknownKeys(families, FAMILY_KEYS, 'labeller.labels.', problems);
  for (const family of FAMILY_KEYS) {
    config.labeller.labels[family] = bool(families, family, `labeller.labels.${family}`, config.labeller.labels[family], problems);
  }
  const nodes = lb['devicetreeNodes'];
  if (nodes !== undefined && nodes !== null) {
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string' && devicetreeNodeOk(n))) {
      problems.push(`labeller.devicetreeNodes must be a list of devicetree node paths such as "/soc/gpu@0" or node names such as gpu, not ${show(nodes)}`);
    } else {
      config.labeller.devicetreeNodes = nodes as string[];
    }
  }
  const nfd = str(lb, 'nfdFeaturesFile', 'labeller.nfdFeaturesFile', problems);
  if (nfd !== undefined && nfd !== '') {
    if (!nfd.startsWith('/')) problems.push(`labeller.nfdFeaturesFile ${show(nfd)} must be an absolute path`);
    else config.labeller.nfdFeaturesFile = nfd;
  }
  const every = lb['rediscoverSeconds'];
  if (every !== undefined && every !== null) {
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 10 || every > 86400) {
      problems.push(`labeller.rediscoverSeconds ${show(every)} must be a whole number of seconds from 10 to 86400`);
    } else {
      config.labeller.rediscoverSeconds = every;
    }
  }
  const kubeconfig = str(lb, 'kubeconfig', 'labeller.kubeconfig', problems);
  if (kubeconfig !== undefined && kubeconfig !== '') {
    if (!kubeconfig.startsWith('/')) problems.push(`labeller.kubeconfig ${show(kubeconfig)} must be an absolute path`);
    else config.labeller.kubeconfig = kubeconfig;
  }
  config.labeller.metrics = readMetricsSection(lb, 'labeller.metrics', 'rise-node-labeller', problems);
  readDraSection(section(raw, 'dra', 'dra', problems), config.dra, problems);
  return config;
}

function readDraSection(dra: Obj, into: DraConfig, problems: string[]): void {
  unknownKeys(dra, DRA_KEYS, 'dra.', problems);
  const driver = str(dra, 'driverName', 'dra.driverName', problems);
  if (driver !== undefined) {
    const problem = draDriverNameProblem(driver);
    if (problem) problems.push(`dra.driverName ${show(driver)} ${problem}`);
    else into.driverName = driver;
  }
  const list = dra['resources'];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list) || !list.every((r): r is string => typeof r === 'string')) {
    problems.push(`dra.resources must be a list of resource names such as riseproject.com/runner, not ${show(list)}`);
    return;
  }
  const seen = new Set<string>();
  for (const name of list) {
    const problem = extendedResourceNameProblem(name);
    if (problem) problems.push(`dra.resources: ${show(name)} is not a resource name the device plugin could serve: ${problem}`);
    else if (seen.has(name)) problems.push(`dra.resources lists ${show(name)} twice; list it once`);
    seen.add(name);
  }
  into.resources = [...seen];
}

/** Why a DRA driver name is unusable, or undefined: a DNS subdomain of at most 63 characters, as for CSI drivers. */
export function draDriverNameProblem(value: string): string | undefined {
  if (value.length > 63 || !isDnsSubdomain(value)) {
    return 'is not a valid DRA driver name: a lowercase DNS subdomain of at most 63 characters, e.g. runner.riseproject.dev';
  }
  return undefined;
}

/** deviceplugin.metrics or labeller.metrics: absent or null is off; present, it must say where. */
function readMetricsSection(parent: Obj, path: string, daemon: string, problems: string[]): MetricsConfig | undefined {
  if (parent['metrics'] === undefined || parent['metrics'] === null) return undefined;
  const raw = section(parent, 'metrics', path, problems);
  unknownKeys(raw, METRICS_KEYS, `${path}.`, problems);
  const metrics: MetricsConfig = { listen: undefined, textfile: undefined };
  const listen = str(raw, 'listen', `${path}.listen`, problems);
  if (listen !== undefined) {
    const problem = listenProblem(listen, daemon);
    if (problem) problems.push(`${path}.listen ${show(listen)} ${problem}`);
    else metrics.listen = listen;
  }
  const textfile = str(raw, 'textfile', `${path}.textfile`, problems);
  if (textfile !== undefined) {
    const problem = textfileProblem(textfile, daemon);
    if (problem) problems.push(`${path}.textfile ${show(textfile)} ${problem}`);
    else metrics.textfile = textfile;
  }
  if (isObj(parent['metrics']) && listen === undefined && textfile === undefined) {
    problems.push(
      `${path} needs listen (e.g. 127.0.0.1:PORT or unix:/run/riscv-runner-node/${daemon}/metrics.sock) or textfile (e.g. /var/lib/prometheus/node-exporter/${daemon}.prom); remove the key to turn metrics off`,
    );
  }
  return metrics.listen === undefined && metrics.textfile === undefined ? undefined : metrics;
}

/**
 * Reads a `listen` value: an IP literal and port (never a host name, so no lookup at start and no
 * surprise about which address was bound), or `unix:` and an absolute socket path.
 */
export function parseListen(value: string): ListenAddress | undefined {
  if (value.startsWith('unix:')) {
    const file = value.slice('unix:'.length);
    return file.startsWith('/') && !file.endsWith('/') && Buffer.byteLength(file) <= MAX_UNIX_SOCKET_PATH ? { kind: 'unix', path: file } : undefined;
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (m[1] !== undefined ? !isIPv6(host) : !isIPv4(host)) return undefined;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { kind: 'tcp', host, port };
}

/** Why a metrics.listen value is unusable, or undefined. */
export function listenProblem(value: string, daemon: string): string | undefined {
  if (parseListen(value) !== undefined) return undefined;
  if (value.startsWith('unix:')) {
    const file = value.slice('unix:'.length);
    if (!file.startsWith('/')) return `must name an absolute socket path after unix:, e.g. unix:/run/riscv-runner-node/${daemon}/metrics.sock`;
    if (Buffer.byteLength(file) > MAX_UNIX_SOCKET_PATH) return `names a socket path longer than ${MAX_UNIX_SOCKET_PATH} bytes, the limit of a unix socket path`;
    return 'must name a socket file, not a directory';
  }
  const port = /:(\d+)$/.exec(value)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return 'has a port outside 1-65535';
  return `must be IP:PORT (127.0.0.1:9465, [::1]:9465; an IP address, not a host name) or unix:/run/riscv-runner-node/${daemon}/metrics.sock`;
}

/** Why a metrics.textfile value is unusable, or undefined: node_exporter reads only *.prom files. */
export function textfileProblem(value: string, daemon: string): string | undefined {
  if (!value.startsWith('/')) return `must be an absolute path, e.g. /var/lib/prometheus/node-exporter/${daemon}.prom`;
  if (!/[^/]\.prom$/.test(value)) return `must end in .prom, the only files node_exporter's textfile collector reads, e.g. /var/lib/prometheus/node-exporter/${daemon}.prom`;
  return undefined;
}

/** A node path ("/soc/gpu@0") without "..", or a node name as the devicetree spec spells them. */
function devicetreeNodeOk(node: string): boolean {
  if (node.startsWith('/')) return !node.split('/').includes('..');
  return /^[A-Za-z0-9,._+@-]+$/.test(node) && node !== '.' && node !== '..';
}

/** Why a device count is unusable, or undefined. Shared by the config file and --device-count. */
export function deviceCountProblem(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be a whole number';
  if (value < 1) return 'must be at least 1 (a board with no runner device takes no runners; use maintenance instead)';
  if (value > MAX_DEVICE_COUNT) return `must be at most ${MAX_DEVICE_COUNT}`;
  return undefined;
}

/** Why a socket file name is unusable, or undefined. */
export function socketNameProblem(value: string): string | undefined {
  if (value === '' || value.includes('/') || value === '.' || value === '..') {
    return 'must be a plain file name inside the device-plugins directory, e.g. rise-riscv-runner.sock';
  }
  if (value === 'kubelet.sock') return "must not be 'kubelet.sock', the kubelet's own socket";
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) return 'must be letters, digits, "-", "_" and "."';
  return undefined;
}

/** Why a node name is unusable, or undefined: Node names are DNS subdomains. */
export function nodeNameProblem(value: string): string | undefined {
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
    return 'is not a valid Node name (lowercase letters, digits, "-" and ".", at most 253 characters)';
  }
  return undefined;
}
