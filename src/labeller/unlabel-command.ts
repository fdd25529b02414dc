// `riscv-runner-node unlabel`: take the labeller's labels and its ownership record off this board's Node (the package's purge runs it).
import { EXIT_CONFIG } from '../common/errors.js';
import { describeError, type Logger } from '../common/logger.js';
import type { Runtime } from '../common/runtime.js';
import { configuredNodeName, DEFAULT_KUBECONFIG_PATHS, kubeconfigFor, loadOrReport, nodeNameFor, type KubeconfigPaths } from './command.js';
import type { NodeApi } from './node-api.js';
import { OWNED_ANNOTATION, unlabelPlan } from './reconcile.js';

export interface UnlabelArgs {
  config: string | undefined;
  kubeconfig: string | undefined;
  nodeName: string | undefined;
  /** The whole command gives up after this long: a purge must not hang on an API server that is down. */
  timeoutSeconds: number;
}

/** Exit status when the labels could not be removed (or it could not be told whether any are there). */
export const EXIT_NOT_REMOVED = 1;

function plainLogger(rt: Runtime): Logger {
  const line = (m: string): void => rt.stderr(`unlabel: ${m}\n`);
  return { error: line, warn: line, info: line, debug: () => undefined };
}

/** What an operator can run instead when the labels could not be removed here. */
function byHand(node: string): string {
  return (
    `they stay on the Node until removed by hand: kubectl label node ${node} <key>- for each key listed in its annotation ` +
    `${OWNED_ANNOTATION}, then kubectl annotate node ${node} ${OWNED_ANNOTATION}-`
  );
}

export async function runUnlabelCommand(args: UnlabelArgs, rt: Runtime, paths: KubeconfigPaths = DEFAULT_KUBECONFIG_PATHS): Promise<number> {
  const config = await loadOrReport(args.config, rt);
  if (config === undefined) return EXIT_CONFIG;
  if (!(args.timeoutSeconds > 0)) {
    rt.stderr(`unlabel: --timeout ${args.timeoutSeconds} must be a number of seconds above 0\n`);
    return EXIT_CONFIG;
  }
  const logger = plainLogger(rt);
  const kubeconfigFile = kubeconfigFor(args.kubeconfig, config, paths);
  const configured = configuredNodeName(args.nodeName, config);
  const shown = configured ?? rt.hostname.toLowerCase();

  const deadline = new AbortController();
  const stopTimer = new AbortController();
  const abort = (): void => deadline.abort();
  rt.signal.addEventListener('abort', abort, { once: true });
  const timeoutMs = args.timeoutSeconds * 1000;
  void rt.clock.sleep(timeoutMs, stopTimer.signal).then(() => {
    if (!stopTimer.signal.aborted) deadline.abort();
  });
  try {
    const { clientNodeApi } = await import('./client-node-api.js');
    let api: NodeApi;
    try {
      api = clientNodeApi({ kubeconfigFile, clock: rt.clock, requestTimeoutMs: timeoutMs });
    } catch (err) {
      logger.error(`failed to load kubeconfig ${kubeconfigFile}: ${describeError(err)}; no labels removed from node ${shown}; ${byHand(shown)}`);
      return EXIT_NOT_REMOVED;
    }
    const node = nodeNameFor(configured, api, rt.hostname, kubeconfigFile, logger);
    if (node === undefined) return EXIT_CONFIG;
    try {
      const current = await api.get(node, deadline.signal);
      if (current === undefined) {
        rt.stdout(`node ${node} does not exist; no labels to remove\n`);
        return 0;
      }
      const plan = unlabelPlan(current);
      if (plan === undefined) {
        rt.stdout(`node ${node}: carries no labels of the node labeller; nothing to remove\n`);
        return 0;
      }
      await api.patch(node, plan.patch, deadline.signal);
      const what = plan.removed.length > 0 ? `${plan.removed.join(', ')} and ` : '';
      rt.stdout(`node ${node}: removed ${what}the annotation ${OWNED_ANNOTATION}\n`);
      return 0;
    } catch (err) {
      const cause = deadline.signal.aborted && !rt.signal.aborted ? `no answer within ${args.timeoutSeconds}s` : describeError(err);
      logger.error(`failed to remove the node labeller's labels from node ${node} (API server ${api.server}): ${cause}; ${byHand(node)}`);
      return EXIT_NOT_REMOVED;
    }
  } finally {
    stopTimer.abort();
    rt.signal.removeEventListener('abort', abort);
  }
}
