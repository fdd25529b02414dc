// Discovery for the plugin: which runner devices this board has, and whether it is in maintenance.
import { stat } from 'node:fs/promises';
import { HEALTHY, UNHEALTHY } from './proto.js';

export interface RunnerDevice {
  ID: string;
  health: typeof HEALTHY | typeof UNHEALTHY;
}

/** runner-0 … runner-(count-1), all Healthy unless the board is in maintenance. */
export function runnerDevices(count: number, maintenance: boolean): RunnerDevice[] {
  const health = maintenance ? UNHEALTHY : HEALTHY;
  return Array.from({ length: count }, (_, i) => ({ ID: `runner-${i}`, health }));
}

/** Two device lists are the same set for the kubelet when IDs and health match in order. */
export function sameDevices(a: readonly RunnerDevice[], b: readonly RunnerDevice[]): boolean {
  return a.length === b.length && a.every((d, i) => d.ID === b[i]?.ID && d.health === b[i]?.health);
}

export function healthyCount(devices: readonly RunnerDevice[]): number {
  return devices.filter((d) => d.health === HEALTHY).length;
}

/**
 * The flag file exists. Anything but "does not exist" counts as present: a flag we cannot read
 * (EACCES) was still put there by someone who meant to drain the board.
 */
export async function maintenanceFlagPresent(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return !(code === 'ENOENT' || code === 'ENOTDIR');
  }
}
