// Wires discovery, the resource manager and the watches into the running device plugin, and owns reload and shutdown.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import type { DevicePluginConfig } from '../common/config.js';
import { DirectoryWatch } from '../common/dirwatch.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { describeError } from '../common/logger.js';
import type { Notifier } from '../common/notifier.js';
import { CdiSpecs, DEFAULT_CDI_DIR } from './cdi.js';
import { maintenanceFlagPresent } from './devices.js';
import { KubeletWatch } from './kubelet-watch.js';
import { ResourceManager } from './manager.js';
import { noDevicePluginMetrics, type DevicePluginMetrics } from './metrics.js';
import type { Discovery, ResourceSpec } from './resource.js';
import { discover } from './sources/index.js';
import type { NodeNames } from './sources/types.js';
import { statusLine } from './status.js';

export interface DevicePluginSettings {
  /** The device-plugins directory: kubelet.sock and every resource's socket. */
  dir: string;
  kubeletSocketName: string;
  /** Filesystem root discovery reads from. */
  root: string;
  /** Where /dev is listed: <root>/dev, or the unit's read-only view of the host's /dev. */
  devDir: string;
  names: NodeNames;
  /** The config in effect at start, flags applied. */
  config: DevicePluginConfig;
  /** The config file, watched; undefined when there is none to watch. */
  configFile: string | undefined;
  /** Reads the config again (file and the peers' files it names), flags applied; throws ConfigError. */
  reloadConfig: (() => Promise<DevicePluginConfig>) | undefined;
  /** The one backstop timer: socket checks, flag and config checks. Also the longest idle sleep. */
  recheckMs: number;
  /** How often /dev is scanned again even without an inotify event. */
  devRescanMs: number;
  /** The /sys/bus/pci/devices PCI pools are read from; <root>/sys/bus/pci/devices when absent. */
  pciDir?: string;
  /** The routing table whose default-route interfaces PCI pools skip; <root>/proc/net/route when absent. */
  routeFile?: string;
  /** How often PCI functions are listed again, instead of deviceplugin.pci.rescanSeconds (tests). */
  pciRescanMs?: number;
  /** Where the CDI specs of resources with cdi: true are written; /var/run/cdi when absent. */
  cdiDir?: string;
}

export const DEFAULT_RECHECK_MS = 5000;
export const DEFAULT_DEV_RESCAN_MS = 60_000;
/** How long a changed config file must stay unchanged before it is read. */
export const CONFIG_SETTLE_MS = 150;

export interface DevicePluginDeps {
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  random?: () => number;
  /** CLOCK_MONOTONIC in µs for RELOADING=1. */
  monotonicUsec?: () => bigint;
  /** Subscribes to reload requests (SIGHUP); returns the unsubscribe function. */
  onReload?: (listener: () => void) => () => void;
  /** Where registrations, devices, allocations and reloads are counted; nowhere when absent. */
  metrics?: DevicePluginMetrics;
  /** A trouble of the metrics outputs (listen failed, textfile not writable), shown in STATUS. */
  statusNote?: StatusNote;
}

/** A line another part of the daemon adds to STATUS, and how it says the line changed. */
export interface StatusNote {
  text(): string | undefined;
  /** Returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** What /healthz answers: healthy when every resource served is registered with the kubelet. */
export interface Health {
  ok: boolean;
  /** The status line, as STATUS says it. */
  reason: string;
}

export interface RunningDevicePlugin {
  /** Resolves once every resource has withdrawn its devices and removed its socket. */
  done: Promise<void>;
  manager: ResourceManager;
  /** Runs a reload now, as SIGHUP does; resolves when it has been applied (or refused). */
  reload: () => Promise<void>;
  /** Runs discovery again without re-reading the config; resolves when applied. */
  rediscover: () => Promise<void>;
  /** Discovery passes so far, and how the last reload went. */
  stats: () => { passes: number; reloads: number; reloadError: string | undefined };
  health: () => Health;
}

/** What a pass must do beyond discovery: re-read the config, and tell systemd of a reload. */
interface PassRequest {
  config: boolean;
  fromSignal: boolean;
}

/** A file's identity and content age: a rename over it, or a write, changes it. */
async function fingerprint(file: string): Promise<string> {
  try {
    const st = await stat(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

export async function startDevicePlugin(
  settings: DevicePluginSettings,
  deps: DevicePluginDeps,
  signal: AbortSignal,
): Promise<RunningDevicePlugin> {
  const { logger, notifier } = deps;
  const metrics = deps.metrics ?? noDevicePluginMetrics;
  let config = settings.config;
  let maintenance = await maintenanceFlagPresent(config.maintenanceFile);
  if (maintenance) logger.warn(`maintenance flag ${config.maintenanceFile} is present: runner devices start Unhealthy`);
  metrics.maintenance(maintenance);
  let last: Discovery = { resources: [], warnings: [], refused: [] };
  let reloadError: string | undefined;
  let stopping = false;
  let ready = false;
  let passes = 0;
  let reloads = 0;

  const currentStatus = (): string =>
    statusLine({
      views: manager.views(),
      refused: last.refused,
      maintenanceFile: maintenance ? config.maintenanceFile : undefined,
      reloadError,
      stopping,
    });
  const updateStatus = (): void => {
    const note = deps.statusNote?.text();
    notifier.status(note === undefined ? currentStatus() : `${currentStatus()}; ${note}`);
  };
  // Many resources change phase together after a kubelet restart: one STATUS for the lot.
  let statusQueued = false;
  const queueStatus = (): void => {
    if (statusQueued) return;
    statusQueued = true;
    setImmediate(() => {
      statusQueued = false;
      updateStatus();
    });
  };

  const cdi = new CdiSpecs(settings.cdiDir ?? DEFAULT_CDI_DIR, logger);
  const kubeletWatch = new KubeletWatch(settings.dir, {
    intervalMs: 0,
    onError: (err) => logger.debug(`watch of ${settings.dir} lost: ${err.message}`),
  });
  const manager = new ResourceManager({
    dir: settings.dir,
    kubeletSocketName: settings.kubeletSocketName,
    watch: kubeletWatch,
    clock: deps.clock,
    logger,
    metrics,
    onChange: queueStatus,
    onRegistered: (name, count) => {
      const spec = manager.views().find((v) => v.spec.name === name)?.spec;
      const devices = spec ? ` (${spec.devices.filter((d) => d.health === 'Healthy').length}/${spec.devices.length} healthy)` : '';
      logger.info(`registered ${name} with kubelet${devices}${count > 1 ? ` (registration ${count})` : ''}`);
      // The runner slots are what the board is for: systemd hears READY once they are offered,
      // after the STATUS that says so (the queued one would come a turn later).
      if (!ready && name === config.resourceName) {
        ready = true;
        updateStatus();
        notifier.ready();
      }
    },
    ...(deps.random ? { random: deps.random } : {}),
  });

  // Every trigger (signal, file change, /dev event, tick) funnels into one queue of passes, so
  // discovery never runs twice at once and a burst of events costs one pass after the current.
  let pending: PassRequest | undefined;
  let working: Promise<void> | undefined;
  const waiters: Array<() => void> = [];
  const request = (req: PassRequest): Promise<void> => {
    if (stopping) return Promise.resolve();
    pending = pending ? { config: pending.config || req.config, fromSignal: pending.fromSignal || req.fromSignal } : req;
    const applied = new Promise<void>((resolve) => waiters.push(resolve));
    if (!working) working = drain();
    return applied;
  };
  const drain = async (): Promise<void> => {
    while (pending && !stopping) {
      const req = pending;
      pending = undefined;
      const served = waiters.splice(0);
      try {
        await pass(req);
      } catch (err) {
        // A pass that throws is a bug, not bad input: keep serving what runs and say so.
        logger.error(`failed to apply discovery: ${describeError(err)}`);
      }
      for (const resolve of served) resolve();
    }
    for (const resolve of waiters.splice(0)) resolve();
    working = undefined;
  };

  const warned = new Set<string>();
  const pass = async (req: PassRequest): Promise<void> => {
    passes += 1;
    if (req.fromSignal) notifier.reloading(deps.monotonicUsec?.() ?? BigInt(deps.clock.now()) * 1000n);
    if (req.config && settings.reloadConfig) {
      reloads += 1;
      // Taken before the read: a write that lands during it shows as a change at the next look.
      await watches.takeFingerprints();
      try {
        const next = await settings.reloadConfig();
        if (reloadError !== undefined) logger.info('config reloaded: the new config is valid and in effect');
        if (JSON.stringify(next.metrics) !== JSON.stringify(settings.config.metrics)) {
          // The endpoint and the textfile are bound at start; moving them under a running
          // scraper would only surprise it.
          logger.warn('deviceplugin.metrics changed: it takes effect when rise-device-plugin restarts');
        }
        reloadError = undefined;
        config = next;
        watches.update();
        metrics.configReload(true);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const first = err.message.split('\n')[0] ?? err.message;
        const more = err.message.split('\n').length - 1;
        reloadError = more > 0 ? `${first} (and ${more} more)` : first;
        logger.error(`config reload failed; still serving the previous config:\n${err.message}`);
        metrics.configReload(false);
      }
    }
    const flag = await maintenanceFlagPresent(config.maintenanceFile);
    if (flag !== maintenance) {
      if (flag) logger.warn(`maintenance flag ${config.maintenanceFile} appeared: runner devices are Unhealthy, no new runners`);
      else logger.info(`maintenance flag ${config.maintenanceFile} removed: runner devices are Healthy`);
    }
    maintenance = flag;
    metrics.maintenance(maintenance);
    const found = await discover({
      config,
      names: settings.names,
      devDir: settings.devDir,
      pciDir: settings.pciDir ?? path.join(settings.root, 'sys', 'bus', 'pci', 'devices'),
      routeFile: settings.routeFile ?? path.join(settings.root, 'proc', 'net', 'route'),
      socketDir: settings.dir,
      maintenance,
      previous: manager.views().map((v) => v.spec),
    });
    // Each warning once while it stays true, so a rescan every minute does not flood the journal.
    const now = new Set([...found.warnings, ...found.refused.map((r) => `${r.name} is not served: ${r.reason}`)]);
    for (const line of now) if (!warned.has(line)) logger.warn(line);
    warned.clear();
    for (const line of now) warned.add(line);
    last = found;
    // Before the servers hear of a change: a spec exists by the time the kubelet can allocate from it.
    await cdi.sync(found.resources);
    const result = await manager.apply(found.resources);
    const changes = [
      result.started.length ? `started ${result.started.join(', ')}` : '',
      result.updated.length ? `updated ${result.updated.join(', ')}` : '',
      result.stopped.length ? `stopped ${result.stopped.join(', ')}` : '',
    ].filter(Boolean);
    if (changes.length > 0 && passes > 1) logger.info(`resources: ${changes.join('; ')}`);
    watches.update();
    if (req.fromSignal) notifier.ready();
    updateStatus();
  };

  // Watches: the config file and the peers' files it names, the maintenance flag, and /dev where
  // dev is configured. None has a timer of its own; one ticker serves them all.
  const watches = new (class {
    private byDir = new Map<string, DirectoryWatch>();
    private fingerprints = new Map<string, string>();
    private configFiles: string[] = [];
    private devDirs: string[] = [];

    update(): void {
      const files = [settings.configFile, config.virtual?.file, config.dev?.file, config.pci?.file].filter((f): f is string => f !== undefined);
      this.configFiles = files;
      this.devDirs = config.dev ? devDirsToWatch(settings.devDir, manager.views().map((v) => v.spec)) : [];
      const dirs = new Set([...files.map((f) => path.dirname(f)), path.dirname(config.maintenanceFile), ...this.devDirs]);
      for (const [dir, watch] of this.byDir) {
        if (!dirs.has(dir)) {
          watch.close();
          this.byDir.delete(dir);
        }
      }
      for (const dir of dirs) {
        if (this.byDir.has(dir)) continue;
        this.byDir.set(dir, new DirectoryWatch(dir, { intervalMs: 0, onChange: (name) => this.changed(dir, name) }));
      }
    }

    /**
     * An inotify event names the file; undefined comes from a tick or from an ancestor standing
     * in for a directory that did not exist yet (it may exist now): then stat what we care about.
     */
    private changed(dir: string, name: string | undefined): void {
      if (name === undefined) {
        void this.look();
        return;
      }
      const file = path.join(dir, name);
      if (this.configFiles.includes(file)) {
        void this.checkConfig();
      } else if (file === config.maintenanceFile) {
        void request({ config: false, fromSignal: false });
      } else if (this.devDirs.includes(dir)) {
        devEvent();
      }
    }

    async takeFingerprints(): Promise<void> {
      for (const file of this.configFiles) this.fingerprints.set(file, await fingerprint(file));
    }

    private settleTimer: NodeJS.Timeout | undefined;

    /** Fingerprints now; true when any differs from the last one taken (which it replaces). */
    private async printsChanged(): Promise<boolean> {
      let changed = false;
      for (const file of this.configFiles) {
        const print = await fingerprint(file);
        if (this.fingerprints.has(file) && this.fingerprints.get(file) !== print) changed = true;
        this.fingerprints.set(file, print);
      }
      return changed;
    }

    /**
     * Re-reads the config only when a file's identity or content age changed, and only once it
     * has stopped changing: `tee` and most editors that write in place truncate the file first,
     * and an empty config is a valid one (every default) that would drop every resource.
     */
    async checkConfig(): Promise<void> {
      if (await this.printsChanged()) this.settle();
    }

    private settle(): void {
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => {
        this.settleTimer = undefined;
        void this.printsChanged().then((changed) => {
          if (changed) this.settle();
          else void request({ config: true, fromSignal: false });
        });
      }, CONFIG_SETTLE_MS);
    }

    private looking: Promise<void> | undefined;

    /** The cheap checks (a few stats), at most one at a time however many watches ask. */
    look(): Promise<void> {
      this.looking ??= (async () => {
        try {
          await this.checkConfig();
          if ((await maintenanceFlagPresent(config.maintenanceFile)) !== maintenance) await request({ config: false, fromSignal: false });
        } finally {
          this.looking = undefined;
        }
      })();
      return this.looking;
    }

    tick(): void {
      for (const watch of this.byDir.values()) watch.tick();
      void this.look();
    }

    close(): void {
      clearTimeout(this.settleTimer);
      for (const watch of this.byDir.values()) watch.close();
      this.byDir.clear();
    }
  })();

  // udev creates a device's nodes and links in a burst: one pass for the burst.
  let devTimer: NodeJS.Timeout | undefined;
  const devEvent = (): void => {
    if (devTimer) return;
    devTimer = setTimeout(() => {
      devTimer = undefined;
      void request({ config: false, fromSignal: false });
    }, 20);
  };

  let ticks = 0;
  const ticksPerDevRescan = Math.max(1, Math.round(settings.devRescanMs / settings.recheckMs));
  // sysfs sends no inotify events for PCI functions: the one ticker also lists them again, at
  // the pool's pace rounded to whole ticks (a rescanSeconds below the tick is the tick).
  const ticksPerPciRescan = (): number =>
    Math.max(1, Math.round((settings.pciRescanMs ?? (config.pci?.rescanSeconds ?? 10) * 1000) / settings.recheckMs));
  const ticker = setInterval(() => {
    ticks += 1;
    kubeletWatch.tick();
    watches.tick();
    const devDue = config.dev !== undefined && ticks % ticksPerDevRescan === 0;
    const pciDue = config.pci !== undefined && ticks % ticksPerPciRescan() === 0;
    if (devDue || pciDue) void request({ config: false, fromSignal: false });
  }, settings.recheckMs);

  const offNote = deps.statusNote?.onChange(queueStatus);
  const offReload = deps.onReload?.(() => {
    logger.info('reload requested: reading the config again');
    void request({ config: true, fromSignal: true });
  });

  watches.update();
  await watches.takeFingerprints();
  // A crash or SIGKILL leaves our specs behind, naming devices that may be gone or moved.
  await cdi.removeStale();
  await request({ config: false, fromSignal: false });

  const stopped = new Promise<void>((resolve) => {
    const onAbort = async (): Promise<void> => {
      stopping = true;
      logger.info(`stopping: withdrawing the devices of ${manager.size} resource${manager.size === 1 ? '' : 's'} and closing their sockets`);
      notifier.stopping();
      updateStatus();
      clearInterval(ticker);
      clearTimeout(devTimer);
      offReload?.();
      offNote?.();
      await working;
      await manager.stopAll();
      await cdi.removeAll();
      watches.close();
      kubeletWatch.close();
      await notifier.flush();
      resolve();
    };
    if (signal.aborted) void onAbort();
    else signal.addEventListener('abort', () => void onAbort(), { once: true });
  });

  return {
    done: stopped,
    manager,
    reload: () => request({ config: true, fromSignal: true }),
    rediscover: () => request({ config: false, fromSignal: false }),
    stats: () => ({ passes, reloads, reloadError }),
    health: () => {
      const views = manager.views();
      const ok = !stopping && views.length > 0 && views.every((v) => v.phase.kind === 'registered');
      return { ok, reason: currentStatus() };
    },
  };
}

/**
 * The /dev directories whose events can change what dev resources exist: /dev itself, each
 * directory on the way to a served entry, and each served entry that is a directory. Never a
 * device node itself: inotify reports every write through it, and a busy serial port would
 * turn into a storm of rescans.
 */
export function devDirsToWatch(devDir: string, specs: readonly ResourceSpec[]): string[] {
  const dirs = new Set([devDir]);
  for (const spec of specs) {
    const entry = spec.devEntry;
    if (entry === undefined) continue;
    const parts = entry.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(path.join(devDir, ...parts.slice(0, i)));
    const isDirectory = spec.grant.kind === 'deviceNodes' && !(spec.grant.paths.length === 1 && spec.grant.paths[0] === `/dev/${entry}`);
    if (isDirectory) dirs.add(path.join(devDir, entry));
  }
  return [...dirs].sort();
}
