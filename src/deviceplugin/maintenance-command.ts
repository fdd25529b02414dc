// `riscv-runner-node maintenance on|off|status`: drain a board from new runners without cluster credentials.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
      await mkdir(path.dirname(file), { recursive: true });
      const body = `since ${new Date(rt.clock.now()).toISOString()}${args.reason ? `\nreason: ${args.reason}` : ''}\n`;
      // Write then rename: the plugin sees the flag appear whole, never half-written.
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${rt.pid}`);
      await writeFile(tmp, body, { mode: 0o644 });
      await rename(tmp, file);
      rt.stdout(`maintenance on: ${file} created; runner devices turn Unhealthy now, the Node's allocatable follows 5-7 s later (the kubelet's node status sync); running jobs are not touched\n`);
      return 0;
    }
    case 'off':
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
