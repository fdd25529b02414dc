// Lists the entries under a /dev directory, as smarter-device-manager walks it.
import type { DevEntry } from './types.js';

export async function scanDev(_devDir: string): Promise<DevEntry[]> {
  return [];
}
