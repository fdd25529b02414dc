// Resolving one setting from flag, environment and config file, in that order of precedence.
import { DEFAULT_CONFIG_FILE, loadConfig, type Config } from './config.js';

/**
 * Loads the config named by --config (or RISCV_RUNNER_NODE_CONFIG, which yargs maps onto it),
 * else the default file if it exists.
 */
export async function configFromFlag(flag: string | undefined): Promise<{ file: string; config: Config }> {
  const file = flag ?? DEFAULT_CONFIG_FILE;
  return { file, config: await loadConfig(file, { mustExist: flag !== undefined }) };
}

/** The first value that is set: flag/env (yargs merged them), then config, then default. */
export function pick<T>(flag: T | undefined, fromConfig: T): T {
  return flag === undefined ? fromConfig : flag;
}

/** The Node this host is: --node-name (or NODE_NAME), then the config, then the host name lowercased as the kubelet does. */
export function nodeNameFrom(flag: string | undefined, config: Config, hostname: string): string {
  return flag ?? config.nodeName ?? hostname.toLowerCase();
}
