// Discovery of the runner slots: how many, and whether the board is in maintenance.
import { stat } from 'node:fs/promises';
import { HEALTHY, UNHEALTHY, type Device } from './resource.js';

export { healthyCount, sameDevices } from './resource.js';


/** runner-0 … runner-(count-1), all Healthy unless the board is in maintenance. */
export function runnerDevices(count: number, maintenance: boolean): Device[] {
  const health = maintenance ? UNHEALTHY : HEALTHY;
  return Array.from({ length: count }, (_, i) => ({ ID: `runner-${i}`, health }));
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
