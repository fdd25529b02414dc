// `maintenance on|off|status` (being written).
import type { Runtime } from '../common/runtime.js';

export interface MaintenanceArgs {
  state: 'on' | 'off' | 'status';
  config: string | undefined;
  maintenanceFile: string | undefined;
  reason: string | undefined;
}

export async function runMaintenanceCommand(_args: MaintenanceArgs, rt: Runtime): Promise<number> {
  rt.stderr('maintenance: not built yet\n');
  return 1;
}
