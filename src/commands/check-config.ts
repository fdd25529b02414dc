// `riscv-runner-node check-config [file]`: validate a config file before a daemon trips over it.
import { DEFAULT_CONFIG_FILE, loadConfig } from '../common/config.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { stringify } from 'yaml';

export interface CheckConfigArgs {
  file: string | undefined;
}

export async function runCheckConfigCommand(args: CheckConfigArgs, rt: Runtime): Promise<number> {
  const file = args.file ?? DEFAULT_CONFIG_FILE;
  try {
    // The file named on the command line must exist; the default one may be absent (all defaults).
    const config = await loadConfig(file, { mustExist: args.file !== undefined });
    rt.stdout(`config ${file}: ok; settings in effect:\n`);
    rt.stdout(stringify(config, { nullStr: '~' }).replace(/^/gm, '  '));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
}
