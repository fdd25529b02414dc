// `dra-driver`: wires config, discovery, the API, the slice publisher, the claim handler and the sockets.
import path from 'node:path';
import type { Config } from '../common/config.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import { describeError } from '../common/logger.js';
import { notifierFor, startWatchdog } from '../common/daemon.js';
import type { Runtime } from '../common/runtime.js';
import { configFromFlag } from '../common/settings.js';
import { maintenanceFlagPresent } from '../deviceplugin/devices.js';
import type { ResourceSpec } from '../deviceplugin/resource.js';
import { connectWith, DEFAULT_KUBECONFIG_PATHS, kubeconfigFor, nodeNameFor, startApiDaemon, type KubeconfigPaths } from '../labeller/command.js';
import { cdiSpecDir } from './cdi-dir.js';
import { ClaimHandler } from './claims.js';
import { ClaimStore } from './claim-store.js';
import { resourceEnv, type DraDevice } from './devices.js';
import { discoverDra } from './discovery.js';
import { DraPlugin } from './plugin.js';
import { SlicePublisher } from './publisher.js';
import type { ResourceApi } from './resource-api.js';
import { draHandlers } from './service.js';

export interface DraDriverArgs {
  config: string | undefined;
  logLevel: string | undefined;
  root: string;
  devDir: string | undefined;
  devicePluginDir: string;
  kubeconfig: string | undefined;
  nodeName: string | undefined;
  registryDir: string;
  pluginsDir: string;
  stateDir: string;
  cdiDir: string;
  /** How often the maintenance flag is looked at, in ms. */
  flagCheckMs?: number;
}

export async function runDraDriverCommand(args: DraDriverArgs, rt: Runtime, paths: KubeconfigPaths = DEFAULT_KUBECONFIG_PATHS): Promise<number> {
  const started = await startApiDaemon(args, rt);
  if (typeof started === 'number') return started;
  const { logger, configured } = started;
  let config: Config = started.config;
  const driver = config.dra.driverName;
  const notifier = notifierFor(rt, logger);
  const stopWatchdog = startWatchdog(rt, notifier, logger);
  const onAbort = (): void => notifier.stopping();
  rt.signal.addEventListener('abort', onAbort, { once: true });
  let plugin: DraPlugin | undefined;
  try {
    const kubeconfigFile = kubeconfigFor(args.kubeconfig, config, paths);
    const { kubeResourceApi } = await import('./resource-api.js');
    const api = await connectWith<ResourceApi>(
      () => kubeResourceApi({ kubeconfigFile, clock: rt.clock, requestTimeoutMs: 30_000 }),
      kubeconfigFile,
      rt.clock,
      logger,
      rt.signal,
      (text) => {
        notifier.status(`DRA driver ${driver}: ${text}`);
        // Not joined yet is this service doing its job: ready, so boot does not wait on it.
        notifier.ready();
      },
    );
    if (api === undefined) return 0;
    const nodeName = nodeNameFor(configured, api, rt.hostname, kubeconfigFile, logger);
    if (nodeName === undefined) return EXIT_CONFIG;

    let devices: DraDevice[] = [];
    let byName = new Map<string, DraDevice>();
    let resources: ResourceSpec[] = [];
    const store = new ClaimStore(args.stateDir);
    await store.init();
    const claims = new ClaimHandler({
      driver,
      pool: nodeName,
      store,
      cdi: cdiSpecDir(args.cdiDir),
      getClaim: (namespace, name) => api.getClaim(namespace, name, rt.signal),
      devices: () => byName,
      envFor: (resource, ids) => resourceEnv(resources, resource, ids),
      logger,
    });
    let registration = `waiting for the kubelet to find ${path.join(args.registryDir, `${driver}-reg.sock`)}`;
    let published = 'no ResourceSlices yet';
    const status = (): void => notifier.status(`DRA driver ${driver} on node ${nodeName}: ${registration}; ${published}`);
    const publisher = new SlicePublisher({
      api,
      driver,
      nodeName,
      clock: rt.clock,
      logger,
      signal: rt.signal,
      onPublished: (text) => {
        published = text;
        status();
      },
    });

    let maintenance = await maintenanceFlagPresent(config.deviceplugin.maintenanceFile);
    const rediscover = async (why: string): Promise<void> => {
      const found = await discoverDra({
        config,
        root: args.root,
        devDir: path.resolve(args.devDir ?? path.join(args.root, 'dev')),
        devicePluginDir: args.devicePluginDir,
        nodeName,
        hostName: rt.hostname,
        maintenance,
      });
      for (const w of found.warnings) logger.warn(w);
      const changed = JSON.stringify(found.devices) !== JSON.stringify(devices);
      devices = found.devices;
      byName = new Map(devices.map((d) => [d.name, d]));
      resources = found.resources;
      if (changed) logger.info(`${why}: ${devices.length} device${devices.length === 1 ? '' : 's'} to publish (${devices.map((d) => d.name).join(', ') || 'none'})`);
      publisher.setDevices(devices);
    };
    await rediscover('discovered');

    plugin = new DraPlugin({
      driver,
      registryDir: args.registryDir,
      pluginsDir: args.pluginsDir,
      handlers: draHandlers(claims),
      clock: rt.clock,
      logger,
      signal: rt.signal,
      onRegistration: (registered, error) => {
        registration = registered ? 'registered with kubelet' : `refused by the kubelet: ${error}`;
        if (registered) logger.info(`registered with kubelet as DRA driver ${driver} (${plugin?.endpoint ?? ''})`);
        status();
      },
    });
    try {
      await plugin.start();
    } catch (err) {
      logger.error(`failed to start DRA driver ${driver}: ${describeError(err)}`);
      return 1;
    }
    logger.info(`serving DRA driver ${driver} for node ${nodeName} on ${plugin.endpoint}, registration socket ${plugin.registrationSocket}`);
    status();
    notifier.ready();

    const unsubscribe = rt.onReload(() => {
      // Type=notify-reload: `systemctl reload` returns at the READY=1 that ends this, once the
      // new config's devices are discovered and handed to the publisher, or refused.
      notifier.reloading(rt.monotonicUsec());
      logger.info('reload requested: reading the config again');
      void (async () => {
        try {
          config = (await configFromFlag(args.config)).config;
          if (config.dra.driverName !== driver) logger.warn(`dra.driverName changed to ${config.dra.driverName}: restart the service to use it`);
          await rediscover('config reloaded');
        } catch (err) {
          logger.error(`config reload failed: ${err instanceof ConfigError ? err.message : describeError(err)}; still publishing the previous devices`);
        } finally {
          notifier.ready();
        }
      })();
    });
    const running = publisher.run();
    let sinceDiscovery = 0;
    const every = args.flagCheckMs ?? 5000;
    while (!rt.signal.aborted) {
      await rt.clock.sleep(every, rt.signal);
      if (rt.signal.aborted) break;
      sinceDiscovery += every;
      // Read each time: a reload may have changed it.
      const rediscoverMs = (config.labeller.rediscoverSeconds ?? 300) * 1000;
      const flag = await maintenanceFlagPresent(config.deviceplugin.maintenanceFile);
      if (flag !== maintenance || sinceDiscovery >= rediscoverMs) {
        const why = flag === maintenance ? 'rediscovered' : flag ? 'maintenance flag present, devices withdrawn' : 'maintenance flag removed';
        maintenance = flag;
        sinceDiscovery = 0;
        await rediscover(why).catch((err: unknown) => logger.error(`failed to discover devices: ${describeError(err)}`));
      }
    }
    unsubscribe();
    await running;
    logger.info('stopped');
    return 0;
  } finally {
    plugin?.stop();
    stopWatchdog();
    rt.signal.removeEventListener('abort', onAbort);
    await notifier.flush();
  }
}

