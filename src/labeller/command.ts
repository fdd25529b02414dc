// `node-labeller` and `detect` commands: wire config, discovery, the Node API and the lifecycle.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { configFromFlag, pick } from '../common/settings.js';
import { nodeNameProblem, type Config } from '../common/config.js';
import { ConfigError, EXIT_CONFIG } from '../common/errors.js';
import { isLogLevel, describeError, type Logger } from '../common/logger.js';
import { loggerFor, notifierFor, startWatchdog } from '../common/daemon.js';
import { Backoff } from '../common/backoff.js';
import type { Runtime } from '../common/runtime.js';
import { discoverLabels } from './discovery.js';
import { chooseKubeconfig, type NodeApi } from './node-api.js';
import { NodeLabeller } from './labeller.js';
import { chooseNodeName } from './node-identity.js';
import type { Clock } from '../common/clock.js';
import { LateMetrics } from '../common/late-metrics.js';
import type { EndpointHealth } from '../common/metrics-endpoint.js';
import { noLabellerMetrics, type LabellerMetrics } from './metrics.js';

export interface NodeLabellerArgs {
  config: string | undefined;
  logLevel: string | undefined;
  root: string;
  kubeconfig: string | undefined;
  nodeName: string | undefined;
}

export interface DetectArgs {
  config: string | undefined;
  root: string;
  json: boolean;
  /** Sample board roots of a source checkout (test/fixtures/roots), shown when there is no devicetree. */
  sampleRoots?: string;
  /** The working directory, so the sample path is shown as a user would type it. */
  cwd?: string;
}

/** Where credentials are looked for when neither --kubeconfig nor KUBECONFIG names a file. */
export interface KubeconfigPaths {
  kubelet: string;
  own: string;
}

/** The credentials the labeller (and unlabel) use, in the one documented order. */
export function kubeconfigFor(flag: string | undefined, config: Config, paths: KubeconfigPaths): string {
  return chooseKubeconfig({
    flag,
    fromConfig: config.labeller.kubeconfig,
    kubeletKubeconfig: paths.kubelet,
    ownKubeconfig: paths.own,
    exists: existsSync,
  });
}

export const DEFAULT_KUBECONFIG_PATHS: KubeconfigPaths = {
  kubelet: '/etc/kubernetes/kubelet.conf',
  own: '/etc/riscv-runner-node/kubeconfig',
};

export async function loadOrReport(file: string | undefined, rt: Runtime): Promise<Config | undefined> {
  try {
    return (await configFromFlag(file)).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      rt.stderr(`${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}

export async function runDetectCommand(args: DetectArgs, rt: Runtime): Promise<number> {
  const config = await loadOrReport(args.config, rt);
  if (config === undefined) return EXIT_CONFIG;
  const found = await discoverLabels(args.root, config.labeller);
  for (const warning of found.warnings) rt.stderr(`warning: ${warning}\n`);
  if (found.boardRule !== undefined) rt.stderr(`board: ${found.boardRule} (labeller.boardNames: ${config.labeller.boardNames})\n`);
  if (!found.hasDevicetree) rt.stderr(await noDevicetreeHint(args));
  if (args.json) {
    rt.stdout(`${JSON.stringify(found.labels, null, 2)}\n`);
  } else {
    rt.stdout(Object.entries(found.labels).map(([key, value]) => `${key}=${value}\n`).join(''));
  }
  return 0;
}

/**
 * What to tell someone who runs detect on a machine without a devicetree (a laptop, most x86 and
 * ACPI machines): why there is no board, and how to see what a real board would get.
 */
async function noDevicetreeHint(args: DetectArgs): Promise<string> {
  const where = args.root === '/' ? 'this machine' : args.root;
  const head = `note: ${where} has no devicetree (sys/firmware/devicetree/base, proc/device-tree): it is not a RISC-V devicetree system, so there is no board to name.\n`;
  let boards: string[] = [];
  if (args.sampleRoots !== undefined) {
    try {
      boards = (await readdir(args.sampleRoots, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch {
      // Not a source checkout (the package ships no samples).
    }
  }
  if (args.sampleRoots === undefined || boards.length === 0) {
    return `${head}To try a sample board, run from a clone of the source: node dist/src/cli.js detect --root test/fixtures/roots/<board>\n`;
  }
  const rel = args.cwd === undefined ? args.sampleRoots : path.relative(args.cwd, args.sampleRoots);
  const shown = rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? args.sampleRoots : rel;
  return `${head}To try a sample board: detect --root ${path.join(shown, '<board>')}, with <board> one of: ${boards.join(', ')}\n`;
}

/** The configured Node name, if any: flag or NODE_NAME, then the config. */
export function configuredNodeName(flag: string | undefined, config: Config): string | undefined {
  return flag ?? config.nodeName;
}

/**
 * The Node to label once the credentials are loaded, or undefined after saying why there is none
 * (a name the credentials may not label, or an invalid one).
 */
export function nodeNameFor(configured: string | undefined, api: Pick<NodeApi, 'credentialsNode'>, hostname: string, kubeconfigFile: string, logger: Logger): string | undefined {
  const choice = chooseNodeName(configured, api.credentialsNode, hostname);
  if ('problem' in choice) {
    logger.error(
      `${choice.problem} (the client certificate in ${kubeconfigFile}), and NodeRestriction lets a node label only its own Node: ` +
        `set --node-name, NODE_NAME or nodeName in the config to '${choice.credentialsNode}', or leave them unset`,
    );
    return undefined;
  }
  const problem = nodeNameProblem(choice.name);
  if (problem) {
    logger.error(`node name '${choice.name}' ${problem}; set --node-name, NODE_NAME or nodeName in the config`);
    return undefined;
  }
  if (choice.from === 'credentials') logger.info(`node name ${choice.name} from the client certificate in ${kubeconfigFile}`);
  return choice.name;
}

/**
 * What a daemon that talks to the API server starts from: its config, its logger and the node name
 * configured (if any), or EXIT_CONFIG after saying what is wrong.
 */
export async function startApiDaemon(
  args: { config: string | undefined; logLevel: string | undefined; nodeName: string | undefined },
  rt: Runtime,
): Promise<{ config: Config; logger: Logger; configured: string | undefined } | number> {
  const config = await loadOrReport(args.config, rt);
  if (config === undefined) return EXIT_CONFIG;
  const level = pick(args.logLevel, config.logLevel);
  const logger = loggerFor(rt, isLogLevel(level) ? level : 'info');
  const configured = configuredNodeName(args.nodeName, config);
  const problem = configured === undefined ? undefined : nodeNameProblem(configured);
  if (configured !== undefined && problem) {
    logger.error(`node name '${configured}' ${problem}; set --node-name, NODE_NAME or nodeName in the config`);
    return EXIT_CONFIG;
  }
  return { config, logger, configured };
}

export async function runNodeLabellerCommand(
  args: NodeLabellerArgs,
  rt: Runtime,
  paths: KubeconfigPaths = DEFAULT_KUBECONFIG_PATHS,
): Promise<number> {
  const started = await startApiDaemon(args, rt);
  if (typeof started === 'number') return started;
  const { config, logger, configured } = started;
  // Named in messages until the credentials, once loaded, may name the Node themselves.
  const provisional = configured ?? rt.hostname.toLowerCase();
  let labeller: NodeLabeller | undefined;
  let waiting = `node ${provisional}: starting`;
  const metrics = labellerMetricsFor(config, () => labeller?.health() ?? { ok: false, reason: waiting }, logger);
  const notifier = metrics ? metrics.startingOnReady(notifierFor(rt, logger)) : notifierFor(rt, logger);
  const stopWatchdog = startWatchdog(rt, notifier, logger);
  const onAbort = (): void => notifier.stopping();
  rt.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const kubeconfigFile = kubeconfigFor(args.kubeconfig, config, paths);
    const api = await connect(kubeconfigFile, rt.clock, logger, rt.signal, (text) => {
      waiting = `node ${provisional}: ${text}`;
      notifier.status(waiting);
      // Waiting for credentials is this service doing its job on a board that has not joined
      // yet: report ready, or `apt install` and boot would wait on it and systemd would retry
      // the start every TimeoutStartSec.
      notifier.ready();
    });
    if (api !== undefined) {
      const nodeName = nodeNameFor(configured, api, rt.hostname, kubeconfigFile, logger);
      if (nodeName === undefined) return EXIT_CONFIG;
      logger.info(`labelling node ${nodeName} with credentials from ${kubeconfigFile}`);
      labeller = new NodeLabeller({
        nodeName,
        root: args.root,
        config: config.labeller,
        api,
        clock: rt.clock,
        logger,
        notifier,
        signal: rt.signal,
        kubeconfigFile,
        ...(metrics ? { metrics: metrics.recorder, statusNote: metrics.note } : {}),
      });
      await labeller.run();
    }
    logger.info('stopped');
    return 0;
  } finally {
    stopWatchdog();
    rt.signal.removeEventListener('abort', onAbort);
    await metrics?.close();
    await notifier.flush();
  }
}

/**
 * The recorder for labeller.metrics, or undefined when it is off (prom-client is then never
 * loaded). It is loaded at the first READY, so the first discovery is not held up by it.
 */
export function labellerMetricsFor(config: Config, health: () => EndpointHealth, logger: Logger): LateMetrics<LabellerMetrics> | undefined {
  const metrics = config.labeller.metrics;
  if (metrics === undefined) return undefined;
  return new LateMetrics(noLabellerMetrics, async () => (await import('./prom-metrics.js')).loadLabellerMetrics(metrics, health, logger), logger);
}

/**
 * Loads the kubeconfig, waiting while it is absent or unreadable: on a board that is still joining
 * the cluster, kubelet.conf appears later, and exiting would only make systemd restart us.
 */
export async function connectWith<T>(
  make: () => T,
  file: string,
  clock: Clock,
  logger: Logger,
  signal: AbortSignal,
  status: (text: string) => void,
): Promise<T | undefined> {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  while (!signal.aborted) {
    try {
      return make();
    } catch (err) {
      const delay = backoff.next();
      logger.error(`failed to load kubeconfig ${file}: ${describeError(err)}; retrying in ${Math.round(delay / 1000)}s`);
      status(`waiting for a usable kubeconfig at ${file}`);
      await clock.sleep(delay, signal);
    }
  }
  return undefined;
}

async function connect(
  file: string,
  clock: Clock,
  logger: Logger,
  signal: AbortSignal,
  status: (text: string) => void,
): Promise<NodeApi | undefined> {
  // Loaded here, not at the top: `detect` must start fast and needs no API client.
  const { clientNodeApi } = await import('./client-node-api.js');
  return connectWith(() => clientNodeApi({ kubeconfigFile: file, clock, requestTimeoutMs: 30_000 }), file, clock, logger, signal, status);
}
