// The runner slots: riseproject.com/runner × deviceCount, Unhealthy while the board is in maintenance.
import type { DevicePluginConfig } from '../../common/config.js';
import { runnerDevices } from '../devices.js';
import type { ResourceSpec } from '../resource.js';

export function runnerResource(config: DevicePluginConfig, maintenance: boolean): ResourceSpec {
  return {
    kind: 'runner',
    name: config.resourceName,
    socketName: config.socketName,
    devices: runnerDevices(config.deviceCount, maintenance),
    grant: { kind: 'env', env: config.allocateEnv },
    origin: 'deviceplugin.resourceName',
  };
}
