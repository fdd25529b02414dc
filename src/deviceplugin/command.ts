// `device-plugin` command (being written).
import type { Runtime } from '../common/runtime.js';

export interface DevicePluginArgs {
  config: string | undefined;
  logLevel: string | undefined;
  devicePluginDir: string;
  resourceName: string | undefined;
  deviceCount: number | undefined;
  socketName: string | undefined;
  maintenanceFile: string | undefined;
}

export async function runDevicePluginCommand(_args: DevicePluginArgs, rt: Runtime): Promise<number> {
  rt.stderr('device-plugin: not built yet\n');
  return 1;
}
