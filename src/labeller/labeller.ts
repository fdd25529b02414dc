// Lifecycle of the node labeller: discover, reconcile the Node, watch it, retry, rediscover, stop.
import { Backoff, type BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { LabellerConfig } from '../common/config.js';
import { describeError, type Logger } from '../common/logger.js';
import type { Notifier } from '../common/notifier.js';
import { noLabellerMetrics, type LabellerMetrics } from './metrics.js';
import { BOARD_LABEL, discoverLabels, type Discovery } from './discovery.js';
import { NodeApiError, type NodeApi, type WatchEvent } from './node-api.js';
import { writeNfdFeatures } from './nfd.js';
import { ownedKeys, planLabels, type NodeView } from './reconcile.js';

export interface LabellerOptions {
  nodeName: string;
  /** Filesystem root discovery reads sys/ and proc/ from. */
  root: string;
  config: LabellerConfig;
  api: NodeApi;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  /** Aborted on shutdown: every request, watch and sleep ends and run() returns. */
  signal: AbortSignal;
  discover?: (root: string, config: LabellerConfig) => Promise<Discovery>;
  backoff?: BackoffOptions;
  /** Seconds the server keeps one watch open; varied so a fleet does not reconnect in step. */
  watchTimeoutSeconds?: () => number;
  /** Kubeconfig in use, named in messages about credentials. */
  kubeconfigFile?: string;
  /** Where patches, repairs, API errors and sync state are counted; nowhere when absent. */
  metrics?: LabellerMetrics;
  /** A trouble of the metrics outputs, added to STATUS; onChange returns the unsubscribe function. */
  statusNote?: { text(): string | undefined; onChange(listener: () => void): () => void };
}

/** What /healthz answers: healthy while the Node carries every label it should. */
export interface LabellerHealth {
  ok: boolean;
  reason: string;
}

/** Like client-go's reflector: between 5 and 10 minutes per watch. */
const defaultWatchTimeout = (): number => 300 + Math.floor(Math.random() * 300);

/** A watch that ends sooner than this was not a normal server timeout: back off before the next. */
const MIN_HEALTHY_WATCH_MS = 1000;

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** resourceVersions are opaque; only when both are integers can an older event be recognised. */
function olderThan(rv: string | undefined, than: string | undefined): boolean {
  if (rv === undefined || than === undefined || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return BigInt(rv) < BigInt(than);
}

export class NodeLabeller {
  private desired: Record<string, string> = {};
  private node: NodeView | undefined;
  private resourceVersion: string | undefined;
  private readonly backoff: Backoff;
  private readonly warned = new Set<string>();
  /** Set while a watch runs: queues a reconcile behind the events being handled. */
  private kick: (() => void) | undefined;
  private waitingFor = 'the API server';
  private discovered = false;
  private lastStatus = '';
  private state = 'starting';
  private readonly metrics: LabellerMetrics;
  /** The desired labels last found on the Node: a patch while they are still desired is a repair. */
  private confirmed: Readonly<Record<string, string>> | undefined;
  private watchesStarted = 0;

  constructor(private readonly o: LabellerOptions) {
    this.backoff = new Backoff(o.backoff ?? { initialMs: 1000, maxMs: 60_000 });
    this.metrics = o.metrics ?? noLabellerMetrics;
  }

  /** Runs until the signal aborts; never returns early and never throws for API errors. */
  async run(): Promise<void> {
    const offNote = this.o.statusNote?.onChange(() => this.status(this.state));
    try {
      await this.rediscover();
      this.o.notifier.ready();
      this.status(`waiting for ${this.waitingFor}`);
      const rediscovering = this.rediscoverLoop();
      await this.reconcileLoop();
      await rediscovering;
    } finally {
      offNote?.();
    }
  }

  health(): LabellerHealth {
    return { ok: this.state === 'in sync', reason: this.statusText(this.state) };
  }

  get labels(): Readonly<Record<string, string>> {
    return this.desired;
  }

  private async rediscoverLoop(): Promise<void> {
    const every = this.o.config.rediscoverSeconds * 1000;
    while (!this.o.signal.aborted) {
      await this.o.clock.sleep(every, this.o.signal);
      if (this.o.signal.aborted) return;
      if (await this.rediscover()) this.kick?.();
    }
  }

  /** Discovers again; true when the desired labels changed. */
  private async rediscover(): Promise<boolean> {
    const found = await (this.o.discover ?? discoverLabels)(this.o.root, this.o.config);
    for (const warning of found.warnings) {
      // Discovery runs every few minutes; the same warning once is enough.
      if (!this.warned.has(warning)) this.o.logger.warn(warning);
      this.warned.add(warning);
    }
    const first = !this.discovered;
    this.discovered = true;
    if (!first && sameLabels(found.labels, this.desired)) return false;
    this.desired = found.labels;
    const shown = Object.entries(found.labels).map(([k, v]) => `${k}=${v}`).join(', ');
    this.o.logger.info(`${first ? 'discovered' : 'discovery changed:'} ${shown || 'no labels'}`);
    if (found.boardRule !== undefined) this.o.logger.info(`board ${found.boardRule}`);
    const nfd = this.o.config.nfdFeaturesFile;
    if (nfd !== undefined) {
      try {
        await writeNfdFeatures(nfd, found.labels);
      } catch (err) {
        this.o.logger.warn(`failed to write ${nfd}: ${describeError(err)}`);
      }
    }
    return !first;
  }

  private async reconcileLoop(): Promise<void> {
    const { signal, clock, api, nodeName } = this.o;
    let needGet = true;
    while (!signal.aborted) {
      try {
        if (needGet) {
          const node = await api.get(nodeName, signal);
          needGet = false;
          if (node === undefined) this.nodeMissing();
          else await this.sync(node);
        }
        const started = clock.now();
        await this.watch();
        if (clock.now() - started < MIN_HEALTHY_WATCH_MS && !signal.aborted) {
          // A server that closes watches at once must not turn this into a tight loop.
          await clock.sleep(this.backoff.next(), signal);
        }
      } catch (err) {
        if (signal.aborted) break;
        const e = err instanceof NodeApiError ? err : new NodeApiError(describeError(err), undefined, undefined);
        this.metrics.apiError(e.status);
        if (e.status === 410) {
          // Our resourceVersion is too old to resume from: read the Node afresh, at once.
          this.o.logger.debug(`watch of node ${nodeName} expired (${e.message}); reading it again`);
          this.resourceVersion = undefined;
          needGet = true;
          continue;
        }
        const delay = this.backoff.next();
        this.explain(e, delay);
        needGet = true;
        await clock.sleep(delay, signal);
      }
    }
  }

  private nodeMissing(): void {
    this.node = undefined;
    this.resourceVersion = undefined;
    this.waitingFor = 'the Node to be registered';
    this.o.logger.info(`node ${this.o.nodeName} does not exist yet (404); waiting for the kubelet to register it`);
    this.metrics.unsynced();
    this.status(`waiting for the Node to be registered`);
  }

  /** Brings the Node's owned labels to the desired set; writes only when something differs. */
  private async sync(node: NodeView): Promise<void> {
    this.node = node;
    this.resourceVersion = node.resourceVersion;
    const plan = planLabels(node, this.desired);
    if (plan.patch === undefined) {
      this.backoff.reset();
      this.inSync(node);
      return;
    }
    const repair = this.confirmed === this.desired;
    const changes = [
      ...plan.set.map((k) => `${k}=${this.desired[k] ?? ''}`),
      ...plan.removed.map((k) => `-${k}`),
    ];
    this.o.logger.info(`node ${this.o.nodeName}: ${changes.length > 0 ? `applying ${changes.join(', ')}` : 'recording owned labels'}`);
    this.pendingKeys = [...plan.set, ...plan.removed];
    const desired = this.desired;
    const updated = await this.o.api.patch(this.o.nodeName, plan.patch, this.o.signal);
    this.metrics.patched(repair);
    this.pendingKeys = [];
    this.node = updated;
    this.resourceVersion = updated.resourceVersion;
    this.backoff.reset();
    // Discovery may have changed the desired labels while the patch was on its way.
    if (desired === this.desired) this.inSync(updated);
  }

  private inSync(node: NodeView): void {
    this.confirmed = this.desired;
    this.metrics.synced(ownedKeys(node).length, this.o.clock.now());
    this.status('in sync');
  }

  private pendingKeys: string[] = [];

  /** One watch, its events handled one at a time; resolves when the server ends it. */
  private async watch(): Promise<void> {
    const { api, nodeName, signal } = this.o;
    if (this.watchesStarted++ > 0) this.metrics.watchRestart();
    const inner = new AbortController();
    const stop = (): void => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    let queue: Promise<void> = Promise.resolve();
    let failure: unknown;
    const enqueue = (work: () => Promise<void>): void => {
      queue = queue.then(work).catch((err: unknown) => {
        // A failed repair ends this watch; the outer loop backs off and reads the Node again.
        failure ??= err;
        inner.abort();
      });
    };
    const onEvent = (e: WatchEvent): void => {
      enqueue(async () => {
        if (failure !== undefined) return;
        if (e.type === 'BOOKMARK') {
          this.resourceVersion = e.node.resourceVersion ?? this.resourceVersion;
          return;
        }
        if (e.type === 'DELETED') {
          this.nodeMissing();
          this.resourceVersion = e.node.resourceVersion;
          return;
        }
        // An event from before our own patch: the one after it follows.
        if (olderThan(e.node.resourceVersion, this.node?.resourceVersion)) return;
        await this.sync(e.node);
      });
    };
    this.kick = () =>
      enqueue(async () => {
        if (this.node !== undefined) await this.sync(this.node);
      });
    try {
      const timeout = (this.o.watchTimeoutSeconds ?? defaultWatchTimeout)();
      await api.watch(nodeName, this.resourceVersion, timeout, onEvent, inner.signal);
    } catch (err) {
      failure ??= err;
    } finally {
      this.kick = undefined;
      signal.removeEventListener('abort', stop);
    }
    await queue;
    if (failure !== undefined && !signal.aborted) throw failure;
  }

  private explain(e: NodeApiError, delayMs: number): void {
    const { nodeName, logger } = this.o;
    const retry = `retrying in ${Math.round(delayMs / 100) / 10}s`;
    const keys = this.pendingKeys.length > 0 ? this.pendingKeys : Object.keys(this.desired);
    if (e.status === 403) {
      logger.error(
        `failed to label node ${nodeName}: forbidden: ${e.message}. ` +
          `With the kubelet's credentials, NodeRestriction lets a node change only its own Node object, and no labels under ` +
          `kubernetes.io/k8s.io outside the kubelet's set, so check that the node name '${nodeName}' is the one the kubelet registered; ` +
          `with another kubeconfig, its user needs RBAC get, watch and patch on nodes. Labels concerned: ${keys.join(', ') || 'none'}; ${retry}`,
      );
      this.waitingFor = 'permission to label the Node (403)';
    } else if (e.status === 401) {
      logger.warn(`failed to reach the API server as a known user (401: ${e.message}); reloading ${this.o.kubeconfigFile ?? 'the kubeconfig'}; ${retry}`);
      try {
        this.o.api.reload();
      } catch (err) {
        logger.error(`failed to reload ${this.o.kubeconfigFile ?? 'the kubeconfig'}: ${describeError(err)}`);
      }
      this.waitingFor = 'valid credentials (401)';
    } else if (e.status === undefined) {
      logger.warn(`failed to reach the API server ${this.o.api.server}: ${e.message}; ${retry}`);
      this.waitingFor = 'the API server';
    } else {
      logger.warn(`failed to label node ${nodeName}: API server answered ${e.status}${e.reason ? ` ${e.reason}` : ''}: ${e.message}; ${retry}`);
      this.waitingFor = `the API server (${e.status})`;
    }
    this.pendingKeys = [];
    this.metrics.unsynced();
    this.status(`waiting for ${this.waitingFor}, ${retry}`);
  }

  /** The status line without the metrics note: what STATUS and /healthz say. */
  private statusText(state: string): string {
    const board = this.desired[BOARD_LABEL];
    const what = board !== undefined ? `${BOARD_LABEL}=${board}` : `no board label, ${Object.keys(this.desired).length} labels`;
    return `node ${this.o.nodeName}: ${what} (${state})`;
  }

  private status(state: string): void {
    this.state = state;
    const note = this.o.statusNote?.text();
    const text = note === undefined ? this.statusText(state) : `${this.statusText(state)}; ${note}`;
    // Every watch event ends here; systemd needs to hear only of a change.
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.o.notifier.status(text);
  }
}

export async function runLabeller(options: LabellerOptions): Promise<void> {
  await new NodeLabeller(options).run();
}
