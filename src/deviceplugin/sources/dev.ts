// smarter-device-manager's /dev entries: one resource per matched entry, N shares each.
import type { DevConfig } from '../../common/config.js';
import type { ResourceSpec } from '../resource.js';
import type { DevEntry, SourceResult } from './types.js';

export function devResources(_config: DevConfig, _entries: readonly DevEntry[], _previous: readonly ResourceSpec[]): SourceResult {
  return { resources: [], warnings: [] };
}
