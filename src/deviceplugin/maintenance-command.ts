// `riscv-runner-node maintenance on|off|status`: drain a board from new runners without cluster credentials.
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import type { Runtime } from '../common/runtime.js';
import { configFromFlag, pick } from '../common/settings.js';
import { maintenanceFlagPresent } from './devices.js';

export interface MaintenanceArgs {
  state: 'on' | 'off' | 'status';
  config: string | undefined;
  maintenanceFile: string | undefined;
  reason: string | undefined;
  /** Replace the reason and time of a board already in maintenance. */
  force?: boolean;
}

/** The since/reason lines `on` writes; a flag made by other means (Ansible writes it empty) has neither. */
function describeFlag(body: string): string {
  const since = /^since (.+)$/m.exec(body)?.[1];
  const reason = /^reason: (.+)$/m.exec(body)?.[1];
  if (since === undefined && reason === undefined) return '';
  return ` since ${since ?? 'an unknown time'}${reason !== undefined ? ` (reason: ${reason})` : ''}`;
}

/** Why the flag's directory cannot take it, or undefined when it can. */
async function parentProblem(file: string): Promise<string | undefined> {
  const dir = path.dirname(file);
  try {
    if (!(await stat(dir)).isDirectory()) return `${dir} is not a directory`;
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `directory ${dir} does not exist`;
    return `cannot reach ${dir} (${code ?? String(err)})`;
  }
}

export async function runMaintenanceCommand(args: MaintenanceArgs, rt: Runtime): Promise<number> {
  let file: string;
  try {
    const { config } = await configFromFlag(args.config);
    file = pick(args.maintenanceFile, config.deviceplugin.maintenanceFile);
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  if (!path.isAbsolute(file)) {
    rt.stderr(`maintenance: --maintenance-file '${file}' must be an absolute path\n`);
    return EXIT_CONFIG;
  }
  switch (args.state) {
    case 'on': {
      // Creating missing directories would turn a typo into a flag nobody watches: nothing drained.
      const problem = await parentProblem(file);
      if (problem !== undefined) {
        rt.stderr(
          `maintenance on: refusing to create ${file}: ${problem}; check the path (--maintenance-file, or deviceplugin.maintenanceFile in the config), the device plugin watches exactly that file\n`,
        );
        return EXIT_CONFIG;
      }
      const existed = await maintenanceFlagPresent(file);
      if (existed && !args.force) {
        const body = await readFile(file, 'utf8').catch(() => '');
        rt.stdout(`maintenance on: already on${describeFlag(body)} (${file}); kept as it is, use --force to replace the reason and time\n`);
        return 0;
      }
      const body = `since ${new Date(rt.clock.now()).toISOString()}${args.reason ? `\nreason: ${args.reason}` : ''}\n`;
      // Write then rename: the plugin sees the flag appear whole, never half-written.
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${rt.pid}`);
      await writeFile(tmp, body, { mode: 0o644 });
      await rename(tmp, file);
      rt.stdout(`maintenance on: ${file} ${existed ? 'replaced' : 'created'}; runner devices turn Unhealthy now, the Node's allocatable follows 5-7 s later (the kubelet's node status sync); running jobs are not touched\n`);
      return 0;
    }
    case 'off':
      if (!(await maintenanceFlagPresent(file))) {
        rt.stdout(`maintenance off: already off (${file} absent); nothing changed\n`);
        return 0;
      }
      await rm(file, { force: true });
      rt.stdout(`maintenance off: ${file} removed; runner devices turn Healthy now, the Node's allocatable follows 5-7 s later (the kubelet's node status sync)\n`);
      return 0;
    case 'status': {
      if (!(await maintenanceFlagPresent(file))) {
        rt.stdout(`maintenance off (${file} absent)\n`);
        return 0;
      }
      const body = await readFile(file, 'utf8').catch(() => '');
      rt.stdout(`maintenance on (${file})${body ? `\n${body.trimEnd()}` : ''}\n`);
      return 0;
    }
  }
}
