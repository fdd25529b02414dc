// spookd's virtual devices: the mappings that list this host, as one resource per resource name.
import type { VirtualConfig } from '../../common/config.js';
import type { NodeNames, SourceResult } from './types.js';

export function virtualResources(_config: VirtualConfig, _names: NodeNames): SourceResult {
  return { resources: [], warnings: [] };
}

/** spookd's Allocate environment for the devices allocated to one container, in request order. */
export function virtualEnv(
  envName: string,
  resourceName: string,
  deviceEnv: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ids: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = { [`${envName}_NUM_DEVICES`]: String(ids.length) };
  ids.forEach((id, i) => {
    const own = { ID: id, TYPE: resourceName, ...deviceEnv[id] };
    for (const [key, value] of Object.entries(own)) {
      env[`${envName}_DEV${i}_${key}`] = value;
      if (i === 0) env[`${envName}_${key}`] = value;
    }
  });
  return env;
}
