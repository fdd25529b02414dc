// `riscv-runner-node check-config [file]`: validate a config file before a daemon trips over it.
import { DEFAULT_CONFIG_FILE, loadConfigFile, type Config } from '../common/config.js';
import { discover, splitByApi } from '../deviceplugin/sources/index.js';
import { pciResourceName } from '../deviceplugin/sources/pci.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { stringify } from 'yaml';

export interface CheckConfigArgs {
  file: string | undefined;
  /** The file checked when none is named; the daemons read the same one. */
  defaultFile?: string;
  /** Where /dev is listed to see which device nodes each API would offer; none: that check is skipped. */
  devDir?: string;
  nodeName?: string;
  hostName?: string;
}

/**
 * Why the config would offer something through both APIs, or name for DRA what nothing serves.
 * The /dev part needs the machine: a directory entry and a node inside it can be two resources.
 */
export async function apiProblems(config: Config, args: CheckConfigArgs): Promise<string[]> {
  const dra = config.dra.resources;
  if (dra.length === 0) return [];
  const dp = config.deviceplugin;
  const problems: string[] = [];
  const virtualNames = new Set((dp.virtual?.deviceMapping ?? []).flatMap((m) => m.devices.map((d) => d.resourceName)));
  const pciNames = new Set((dp.pci?.resources ?? []).map(pciResourceName));
  for (const name of dra) {
    const known = name === dp.resourceName || virtualNames.has(name) || pciNames.has(name) || (dp.dev !== undefined && name.startsWith(`${dp.dev.prefix}/`));
    if (!known) {
      const kinds = [`the runner is ${dp.resourceName}`, virtualNames.size ? `virtual: ${[...virtualNames].join(', ')}` : '', pciNames.size ? `PCI pools: ${[...pciNames].join(', ')}` : '', dp.dev ? `/dev entries: ${dp.dev.prefix}/…` : ''];
      problems.push(`dra.resources: ${name} is not a resource this config serves (${kinds.filter(Boolean).join(', ')}); fix the name`);
    }
  }
  // Only /dev entries and PCI functions carry device nodes two resources could share.
  if (args.devDir !== undefined && (dp.dev !== undefined || dp.pci !== undefined)) {
    const found = await discover({
      config: dp,
      names: { nodeName: args.nodeName ?? '', hostName: args.hostName ?? '' },
      devDir: args.devDir,
      socketDir: '/var/lib/kubelet/device-plugins',
      maintenance: false,
      previous: [],
    });
    problems.push(...splitByApi(found.resources, dra).clashes);
  }
  return problems;
}

export async function runCheckConfigCommand(args: CheckConfigArgs, rt: Runtime): Promise<number> {
  const file = args.file ?? args.defaultFile ?? DEFAULT_CONFIG_FILE;
  try {
    // The file named on the command line must exist; the default one may be absent (all defaults).
    const { config, found } = await loadConfigFile(file, { mustExist: args.file !== undefined, namedBy: 'check-config' });
    const problems = await apiProblems(config, args);
    if (problems.length > 0) {
      // One device offered both ways could be given to two pods at once: refuse it like bad syntax.
      rt.stderr(`${problems.map((p) => `config ${file}: ${p}`).join('\n')}\n`);
      return EXIT_CONFIG;
    }
    rt.stdout(
      found
        ? `config ${file}: ok; settings in effect:\n`
        : `config ${file}: does not exist, so the daemons run with the defaults; settings in effect:\n`,
    );
    const settings = stringify(config, { nullStr: '~' })
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `  ${line}`);
    rt.stdout(`${settings.join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
}
