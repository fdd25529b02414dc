// `riscv-runner-node check-config [file]`: validate a config file before a daemon trips over it.
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../common/config.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { stringify } from 'yaml';

export interface CheckConfigArgs {
  file: string | undefined;
  /** The file checked when none is named; the daemons read the same one. */
  defaultFile?: string;
}

export async function runCheckConfigCommand(args: CheckConfigArgs, rt: Runtime): Promise<number> {
  const file = args.file ?? args.defaultFile ?? DEFAULT_CONFIG_FILE;
  try {
    // The file named on the command line must exist; the default one may be absent (all defaults).
    const { config, found } = await loadConfigFile(file, { mustExist: args.file !== undefined, namedBy: 'check-config' });
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
