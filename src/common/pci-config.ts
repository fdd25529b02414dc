// The deviceplugin.pci section: the SR-IOV Network Device Plugin's resourceList, inline or read from its own config.json.
import { extendedResourceNameProblem } from './labels.js';
import { isObj, peerList, peerPlace, readBool, readPrefix, showValue, unknownKeys, type IncludedFiles, type Obj } from './peer-config.js';

/** sriov's default prefix, also its command line's. */
export const DEFAULT_PCI_PREFIX = 'intel.com';
/** sysfs sends no inotify events, so PCI functions are listed again this often. */
export const DEFAULT_PCI_RESCAN_SECONDS = 10;
/** sriov's own file, named here only in messages and docs. */
export const SRIOV_CONFIG_FILE = '/etc/pcidp/config.json';

/** netDevice and accelerator are sriov's; pci (ours) takes a function of any class. */
export type PciDeviceType = 'netDevice' | 'accelerator' | 'pci';
export const PCI_DEVICE_TYPES: readonly PciDeviceType[] = ['netDevice', 'accelerator', 'pci'];

/** One `NAME[#0,2-5]` (pfNames) or `DDDD:BB:DD.F[#…]` (rootDevices) entry. */
export interface PfRef {
  /** The PF's interface name or PCI address. */
  of: string;
  /** VF indexes the entry is limited to, ascending; undefined: the PF itself and every VF of it. */
  functions: readonly number[] | undefined;
}

/** One selector object: every non-empty field must match (AND); a field lists accepted values (OR). */
export interface PciSelector {
  vendors: string[];
  devices: string[];
  drivers: string[];
  pciAddresses: string[];
  acpiIndexes: string[];
  pfNames: PfRef[];
  rootDevices: PfRef[];
  linkTypes: string[];
  /** Devices this selector takes also get /dev/vhost-net and /dev/net/tun. */
  needVhostNet: boolean;
}

export interface PciResourceConfig {
  resourceName: string;
  resourcePrefix: string;
  deviceType: PciDeviceType;
  excludeTopology: boolean;
  /** Tried in order; a device goes to the first that matches. Empty: the resource takes nothing. */
  selectors: PciSelector[];
  /** `"*"` or a PCI address → strings, given to the container in `<env>_INFO` as "extra". */
  additionalInfo: Record<string, Record<string, string>> | undefined;
  /** Answer Allocate with CDI device names instead of DeviceSpecs, from a spec under /var/run/cdi. */
  cdi: boolean;
  /** false: GetPreferredAllocation refuses a request that cannot fit on one NUMA node (Rebellions' key). */
  allowCrossNuma: boolean;
  /** Where it was configured, for messages: "deviceplugin.pci.resourceList[2]". */
  place: string;
}

export interface PciConfig {
  resources: PciResourceConfig[];
  rescanSeconds: number;
  /** Where resourceList was read, for messages: sriov's own file, or undefined when inline. */
  file: string | undefined;
}

const SECTION_KEYS = ['resourceList', 'file', 'resourcePrefix', 'rescanSeconds', 'cdi', 'allowCrossNuma'] as const;
const RESOURCE_KEYS = ['resourceName', 'resourcePrefix', 'deviceType', 'excludeTopology', 'selectors', 'additionalInfo', 'cdi', 'allowCrossNuma'] as const;
const COMMON_SELECTOR_KEYS = ['vendors', 'devices', 'drivers', 'pciAddresses', 'acpiIndexes'] as const;
const NET_SELECTOR_KEYS = ['pfNames', 'rootDevices', 'linkTypes', 'needVhostNet'] as const;
/** sriov's netDevice selectors this plugin does not implement: refused by name, never ignored. */
const UNSUPPORTED_SELECTOR_KEYS = ['isRdma', 'vdpaType', 'ddpProfiles', 'pKeys'] as const;
/** auxNetDevice's own selector. */
const AUX_SELECTOR_KEYS = ['auxTypes'] as const;

/** sriov's resourceName rule: letters, digits, '_' and '-'; no dot. */
const SRIOV_NAME_RE = /^[a-zA-Z0-9_-]+$/;
export const PCI_ADDRESS_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const HEX4_RE = /^[0-9a-f]{4}$/;

/** deviceplugin.pci: sriov's resourceList inline, or `{file: /etc/pcidp/config.json}`; our keys beside either. */
export function readPciSection(value: unknown, included: IncludedFiles, problems: string[]): PciConfig | undefined {
  const key = 'deviceplugin.pci';
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    problems.push(`${key} must be a mapping (resourceList: [...], or file: ${SRIOV_CONFIG_FILE}), not ${showValue(value)}`);
    return undefined;
  }
  unknownKeys(value, SECTION_KEYS, (k) => `${key}.${k}`, problems);
  const defaults = {
    prefix: readPrefix(value, 'resourcePrefix', `${key}.resourcePrefix`, DEFAULT_PCI_PREFIX, problems),
    cdi: flag(value, 'cdi', `${key}.cdi`, false, problems),
    allowCrossNuma: flag(value, 'allowCrossNuma', `${key}.allowCrossNuma`, true, problems),
  };
  let rescanSeconds = DEFAULT_PCI_RESCAN_SECONDS;
  const every = value['rescanSeconds'];
  if (every !== undefined && every !== null) {
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 1 || every > 3600) {
      problems.push(`${key}.rescanSeconds ${showValue(every)} must be a whole number of seconds from 1 to 3600`);
    } else {
      rescanSeconds = every;
    }
  }
  const got = peerList(value, 'pci', 'resourceList', 'sriov', included, problems);
  if (got === undefined) return undefined;
  return { resources: readResourceList(got.list, got.file, defaults, problems), rescanSeconds, file: got.file };
}

const flag = readBool;

interface Defaults {
  prefix: string;
  cdi: boolean;
  allowCrossNuma: boolean;
}

function readResourceList(value: unknown, file: string | undefined, defaults: Defaults, problems: string[]): PciResourceConfig[] {
  const at = (sub: string): string => peerPlace('pci', file, sub);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`${at('resourceList')} must be a list of {resourceName, selectors, …} (sriov's format), not ${showValue(value)}`);
    return [];
  }
  const out: PciResourceConfig[] = [];
  // <prefix>/<name> → where it first appeared: sriov's names are unique per prefix.
  const seen = new Map<string, string>();
  value.forEach((item: unknown, i) => {
    const place = at(`resourceList[${i}]`);
    const resource = readResource(item, place, defaults, problems);
    if (resource === undefined) return;
    const full = `${resource.resourcePrefix}/${resource.resourceName}`;
    const first = seen.get(full);
    if (first !== undefined) {
      problems.push(`${place}.resourceName '${resource.resourceName}' repeats ${first}: ${full} must be unique (the same name under another resourcePrefix is fine)`);
      return;
    }
    seen.set(full, place);
    out.push(resource);
  });
  return out;
}

function readResource(item: unknown, place: string, defaults: Defaults, problems: string[]): PciResourceConfig | undefined {
  if (!isObj(item)) {
    problems.push(`${place} must be a mapping with resourceName and selectors, not ${showValue(item)}`);
    return undefined;
  }
  const before = problems.length;
  unknownKeys(item, RESOURCE_KEYS, (k) => `${place}.${k}`, problems);
  const name = item['resourceName'];
  if (typeof name !== 'string' || name === '') {
    problems.push(`${place}.resourceName ${name === undefined ? 'is missing' : `must be a non-empty string, not ${showValue(name)}`}; e.g. resourceName: intel_sriov_netdevice`);
  } else if (!SRIOV_NAME_RE.test(name)) {
    problems.push(`${place}.resourceName ${showValue(name)} may hold only letters, digits, '_' and '-' (no '.' or '/': the prefix goes in resourcePrefix)`);
  }
  const prefix = readPrefix(item, 'resourcePrefix', `${place}.resourcePrefix`, defaults.prefix, problems);
  if (typeof name === 'string' && SRIOV_NAME_RE.test(name) && problems.length === before) {
    const problem = extendedResourceNameProblem(`${prefix}/${name}`);
    if (problem) problems.push(`${place}.resourceName '${name}' makes ${prefix}/${name}, which the kubelet refuses: ${problem}`);
  }
  let deviceType: PciDeviceType = 'netDevice';
  const rawType = item['deviceType'];
  if (rawType !== undefined && rawType !== null) {
    const known = PCI_DEVICE_TYPES.find((t) => t === rawType);
    if (known !== undefined) deviceType = known;
    else if (rawType === 'auxNetDevice') problems.push(`${place}.deviceType 'auxNetDevice' is not supported (auxiliary network devices are not served); use netDevice, accelerator or pci`);
    else problems.push(`${place}.deviceType ${showValue(rawType)} is not one of ${PCI_DEVICE_TYPES.join(', ')}`);
  }
  const excludeTopology = flag(item, 'excludeTopology', `${place}.excludeTopology`, false, problems);
  const cdi = flag(item, 'cdi', `${place}.cdi`, defaults.cdi, problems);
  const allowCrossNuma = flag(item, 'allowCrossNuma', `${place}.allowCrossNuma`, defaults.allowCrossNuma, problems);
  if (cdi && typeof name === 'string') {
    const problem = cdiKindProblem(prefix, name);
    if (problem) problems.push(`${place}.cdi: ${problem}; rename it, or leave this resource out of CDI (cdi: false)`);
  }
  const selectors = readSelectors(item['selectors'], `${place}.selectors`, deviceType, problems);
  const additionalInfo = readAdditionalInfo(item['additionalInfo'], `${place}.additionalInfo`, problems);
  if (problems.length > before) return undefined;
  return {
    resourceName: name as string,
    resourcePrefix: prefix,
    deviceType,
    excludeTopology,
    selectors,
    additionalInfo,
    cdi,
    allowCrossNuma,
    place,
  };
}

/**
 * A CDI kind is `vendor/class`: both start with a letter and end with a letter or digit; the
 * vendor may hold '-', '_' and '.', the class '-' and '_' (the CDI specification's rules).
 */
export function cdiKindProblem(vendor: string, cls: string): string | undefined {
  if (!/^[A-Za-z]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(vendor)) return `the CDI vendor '${vendor}' must start with a letter, end with a letter or digit, and hold only letters, digits, '-', '_' and '.'`;
  if (!/^[A-Za-z]([A-Za-z0-9_-]*[A-Za-z0-9])?$/.test(cls)) return `the CDI class '${cls}' must start with a letter, end with a letter or digit, and hold only letters, digits, '-' and '_'`;
  return undefined;
}

/** One object or a list of them, as sriov takes both. */
function readSelectors(value: unknown, place: string, deviceType: PciDeviceType, problems: string[]): PciSelector[] {
  if (value === undefined || value === null) return [];
  if (isObj(value)) return [readSelector(value, place, deviceType, problems)];
  if (!Array.isArray(value)) {
    problems.push(`${place} must be a selector object or a list of them, not ${showValue(value)}`);
    return [];
  }
  return value.flatMap((s: unknown, i) => {
    if (!isObj(s)) {
      problems.push(`${place}[${i}] must be a selector object such as {vendors: ['8086'], drivers: [vfio-pci]}, not ${showValue(s)}`);
      return [];
    }
    return [readSelector(s, `${place}[${i}]`, deviceType, problems)];
  });
}

function readSelector(obj: Obj, place: string, deviceType: PciDeviceType, problems: string[]): PciSelector {
  const net = deviceType === 'netDevice';
  for (const key of Object.keys(obj)) {
    const where = `${place}.${key}`;
    if ((COMMON_SELECTOR_KEYS as readonly string[]).includes(key)) continue;
    if ((NET_SELECTOR_KEYS as readonly string[]).includes(key)) {
      if (!net) problems.push(`${where} applies to deviceType netDevice only, and this resource is ${deviceType}; remove it`);
      continue;
    }
    if ((UNSUPPORTED_SELECTOR_KEYS as readonly string[]).includes(key)) {
      if (unsupportedIsSet(obj[key])) problems.push(`${where} is not supported (RDMA, vDPA, DDP profiles and InfiniBand partition keys are not served); remove it`);
      continue;
    }
    if ((AUX_SELECTOR_KEYS as readonly string[]).includes(key)) {
      problems.push(`${where} is not supported: it belongs to deviceType auxNetDevice, which is not served; remove it`);
      continue;
    }
    unknownKeys({ [key]: obj[key] }, [...COMMON_SELECTOR_KEYS, ...(net ? NET_SELECTOR_KEYS : [])], (k) => `${place}.${k}`, problems);
  }
  if (unsupportedIsSet(obj['isRdma']) && unsupportedIsSet(obj['vdpaType'])) {
    problems.push(`${place} sets both isRdma and vdpaType, which sriov refuses in one selector`);
  }
  const strings = (key: string, check?: (s: string) => string | undefined): string[] => {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problems.push(`${place}.${key} must be a list of strings, not ${showValue(v)}${typeof v === 'string' ? ` (write [${showValue(v)}])` : ''}`);
      return [];
    }
    const out: string[] = [];
    v.forEach((s: unknown, i) => {
      if (typeof s !== 'string' || s === '') {
        problems.push(`${place}.${key}[${i}] must be a non-empty string, not ${showValue(s)}${typeof s === 'number' ? ' (quote it)' : ''}`);
        return;
      }
      const problem = check?.(s);
      if (problem) problems.push(`${place}.${key}[${i}] ${showValue(s)} ${problem}`);
      else out.push(s);
    });
    return out;
  };
  const hex4 = (what: string) => (s: string): string | undefined =>
    HEX4_RE.test(s) ? undefined : `is not a ${what} ID: write 4 lower-case hex digits without 0x, as sysfs shows it after the 0x (e.g. '${s.replace(/^0x/i, '').toLowerCase().padStart(4, '0').slice(0, 4)}')`;
  const refs = (key: string, what: string, check: (s: string) => boolean): PfRef[] =>
    strings(key, (s) => pfRefProblem(s, what, check)).map(parsePfRef);
  return {
    vendors: strings('vendors', hex4('vendor')),
    devices: strings('devices', hex4('device')),
    drivers: strings('drivers'),
    pciAddresses: strings('pciAddresses', pciAddressProblem),
    acpiIndexes: strings('acpiIndexes'),
    pfNames: refs('pfNames', 'an interface name', (s) => /^[^\s/#]{1,15}$/.test(s)),
    rootDevices: refs('rootDevices', 'a PCI address in the full DDDD:BB:DD.F form', (s) => PCI_ADDRESS_RE.test(s)),
    linkTypes: strings('linkTypes'),
    needVhostNet: flag(obj, 'needVhostNet', `${place}.needVhostNet`, false, problems),
  };
}

/** A not-implemented selector asks for something only when it holds a value that would constrain. */
function unsupportedIsSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  return !(Array.isArray(v) && v.length === 0);
}

export function pciAddressProblem(s: string): string | undefined {
  if (PCI_ADDRESS_RE.test(s)) return undefined;
  if (/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(s)) return `is not a full PCI address: write the domain too, '0000:${s.toLowerCase()}'`;
  return "is not a PCI address in the full DDDD:BB:DD.F form, lower-case hex (e.g. '0000:3b:02.6')";
}

/** `X` or `X#0,2-5,7`: the ranges are VF indexes, 0-based, low-high inclusive. */
function pfRefProblem(s: string, what: string, check: (s: string) => boolean): string | undefined {
  const hash = s.indexOf('#');
  const of = hash < 0 ? s : s.slice(0, hash);
  if (!check(of)) return `does not start with ${what}`;
  if (hash < 0) return undefined;
  const list = s.slice(hash + 1).split(',');
  for (const part of list) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return `has '${part}' after '#': write function indexes and ranges such as ${of}#0,2-5,7`;
    if (m[2] !== undefined && Number(m[2]) < Number(m[1])) return `has the range '${part}', which ends before it starts`;
    // SR-IOV counts VFs in 16 bits.
    if (Number(m[2] ?? m[1]) > 65535) return `has '${part}': a PF has at most 65536 functions (0-65535)`;
  }
  return undefined;
}

function parsePfRef(s: string): PfRef {
  const hash = s.indexOf('#');
  if (hash < 0) return { of: s, functions: undefined };
  const functions = new Set<number>();
  for (const part of s.slice(hash + 1).split(',')) {
    const [lo = '0', hi] = part.split('-');
    for (let n = Number(lo); n <= Number(hi ?? lo); n++) functions.add(n);
  }
  return { of: s.slice(0, hash), functions: [...functions].sort((a, b) => a - b) };
}

function readAdditionalInfo(value: unknown, place: string, problems: string[]): Record<string, Record<string, string>> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    problems.push(`${place} must be a mapping of "*" or a PCI address to a mapping of strings, not ${showValue(value)}`);
    return undefined;
  }
  const out: Array<[string, Record<string, string>]> = [];
  for (const [key, entries] of Object.entries(value)) {
    if (key !== '*') {
      const problem = pciAddressProblem(key);
      if (problem) {
        problems.push(`${place} key ${showValue(key)} ${problem}, or '*' for every device`);
        continue;
      }
    }
    if (!isObj(entries)) {
      problems.push(`${place}.${key} must be a mapping of strings, not ${showValue(entries)}`);
      continue;
    }
    const strings: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(entries)) {
      if (typeof v === 'string') strings.push([k, v]);
      else problems.push(`${place}.${key}.${k} must be a string, not ${showValue(v)} (quote it)`);
    }
    // fromEntries defines own properties, so a key such as __proto__ stays a plain key.
    out.push([key, Object.fromEntries(strings)]);
  }
  return Object.fromEntries(out);
}
