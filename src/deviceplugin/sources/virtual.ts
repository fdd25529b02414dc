// spookd's virtual devices: the mappings that list this host, as one resource per resource name.
import type { VirtualConfig } from '../../common/config.js';
import type { NodeNames, SourceResult } from './types.js';

export function virtualResources(_config: VirtualConfig, _names: NodeNames): SourceResult {
  return { resources: [], warnings: [] };
}
