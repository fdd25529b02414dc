// `npm run render:dashboard`: docs/dashboard.png, the fleet dashboard drawn from the real daemons.
// Three boards, each a rise-device-plugin and a rise-node-labeller (real processes, metrics on)
// against its own kubelet stand-in and one API server stand-in; a kube-state-metrics stand-in
// for the Node metrics; Debian's Prometheus on loopback scraping all of them and loading the
// alert rules. A scripted run (kubelet restarts, a drain, a deleted label, API errors, a plugin
// killed, a labeller stopped), then every panel's queries against Prometheus's API, drawn by
// preview.ts and screenshot with headless Chromium.
// Needs: prometheus and chromium (apt-get install prometheus chromium).
// Environment: RRN_RENDER_MINUTES (length of the run, default 15), RRN_RENDER_OUT (default docs/dashboard.png).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '../fakes/apiserver.js';
import { FakeKubelet } from '../fakes/kubelet.js';
import { FakeKubeStateMetrics, kubeletAllocatable } from '../fakes/kube-state-metrics.js';
import { fillVariables, readDashboard } from './model.js';
import { formatValue, previewHtml, PAGE_WIDTH, type PanelData } from './preview.js';
import { CHROMIUM, findProgram, PROMETHEUS } from './programs.js';
import { freePort, queryInstant, queryRange, startPrometheus } from './prometheus.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/roots/', import.meta.url));
const RULES = path.resolve('packaging/monitoring/riscv-runner-node.rules.yml');
const OUT = path.resolve(process.env['RRN_RENDER_OUT'] ?? 'docs/dashboard.png');
const MINUTES = Number(process.env['RRN_RENDER_MINUTES'] ?? 15);
const SCRAPE_SECONDS = 5;
const RESOURCE = 'riseproject.com/runner';
// The kubelet's nodeStatusUpdateFrequency and nodeStatusReportFrequency: it looks at its Node's
// status every 10 s and writes it when it changed, or when 5 minutes passed without a write.
const STATUS_CHECK_MS = 10_000;
const STATUS_REPORT_MS = 300_000;

const log = (line: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A board's config file, as /etc/riscv-runner-node/config.yaml would be on it: both daemons read
 * the same file, each its own section, so each serves /metrics on its own loopback port. Metrics
 * have no command-line flag: they are read from the config at start.
 */
function boardConfig(b: Pick<Board, 'pluginPort' | 'labellerPort'>): string {
  return [
    'deviceplugin:',
    '  metrics:',
    `    listen: 127.0.0.1:${b.pluginPort}`,
    'labeller:',
    '  metrics:',
    `    listen: 127.0.0.1:${b.labellerPort}`,
    '',
  ].join('\n');
}

interface Board {
  node: string;
  root: string;
  dir: string;
  kubelet: FakeKubelet;
  maintenance: string;
  pluginPort: number;
  labellerPort: number;
  /** False while the scenario has the kubelet stopped: a stopped kubelet writes no status. */
  kubeletUp: boolean;
  /** The last status write: when, and the allocatable it wrote. */
  statusWritten?: { at: number; allocatable: string };
  plugin?: ChildProcess;
  labeller?: ChildProcess;
}

const children = new Set<ChildProcess>();

function daemon(name: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) if (/warn|error/i.test(line)) log(`[${name}] ${line}`);
  });
  return child;
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

function startPlugin(b: Board): void {
  b.plugin = daemon(`${b.node} plugin`, [
    'device-plugin',
    '--config', path.join(b.dir, 'config.yaml'),
    '--device-plugin-dir', b.kubelet.dir,
    '--maintenance-file', b.maintenance,
    '--node-name', b.node,
  ]);
}

function startLabeller(b: Board, kubeconfig: string): void {
  b.labeller = daemon(`${b.node} labeller`, [
    'node-labeller',
    '--config', path.join(b.dir, 'config.yaml'),
    '--root', b.root,
    '--kubeconfig', kubeconfig,
    '--node-name', b.node,
  ]);
}

/** Fails at once, with check-config's reasons, when this build does not take a board's config. */
async function checkConfig(file: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [CLI, 'check-config', file], (err, stdout, stderr) =>
      err ? reject(new Error(`render: riscv-runner-node check-config ${file} failed: ${stderr || stdout}`)) : resolve(),
    ),
  );
}

/** Waits until a daemon's /healthz answers at all (200 or 503): its metrics server is up. */
async function waitForMetrics(name: string, port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return;
    } catch {
      // Not listening yet: the daemons open it only after READY=1.
    }
    if (Date.now() > deadline) throw new Error(`render: ${name} serves no metrics on 127.0.0.1:${port} after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/**
 * One kubelet status check: the Node's status.allocatable written when it changed or is 5
 * minutes old. Each write is a watch event, and the labeller confirms its labels at each, which
 * is what keeps a real board's sync age under 5 minutes.
 */
function kubeletStatus(api: FakeApiServer, b: Board, now: number): void {
  if (!b.kubeletUp) return;
  const counts = kubeletAllocatable(b.kubelet);
  const allocatable = JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)])));
  if (b.statusWritten && b.statusWritten.allocatable === allocatable && now - b.statusWritten.at < STATUS_REPORT_MS) return;
  api.reportStatus(b.node, { allocatable: JSON.parse(allocatable) as Record<string, string> });
  b.statusWritten = { at: now, allocatable };
}

function prometheusConfig(boards: Board[], ksm: string): string {
  const targets = (port: (b: Board) => number) => boards.map((b) => ({ targets: [`127.0.0.1:${port(b)}`], labels: { node: b.node } }));
  // JSON is YAML: Prometheus reads this as it would the documented YAML.
  return JSON.stringify(
    {
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      rule_files: [RULES],
      scrape_configs: [
        { job_name: 'rise-device-plugin', static_configs: targets((b) => b.pluginPort) },
        { job_name: 'rise-node-labeller', static_configs: targets((b) => b.labellerPort) },
        { job_name: 'kube-state-metrics', honor_labels: true, static_configs: [{ targets: [new URL(ksm).host] }] },
      ],
    },
    null,
    2,
  );
}

const dir = await mkdtemp(path.join(tmpdir(), 'rrn-render-'));
const api = new FakeApiServer();
const boards: Board[] = [];
let ksm: FakeKubeStateMetrics | undefined;
let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
let statusTimer: NodeJS.Timeout | undefined;
try {
  // Both looked for first: a missing one fails now, not at the end of the run.
  const programs = { prometheus: await findProgram(PROMETHEUS, process.env['PATH'] ?? ''), chromium: await findProgram(CHROMIUM, process.env['PATH'] ?? '') };
  log(`using ${programs.prometheus} and ${programs.chromium}`);
  const token = 'render-token';
  const url = await api.start(0, '127.0.0.1');
  for (const [node, root] of [['rv-01', 'scw-em-rv1'], ['rv-02', 'jupiter'], ['rv-03', 'milkv-pioneer']] as const) {
    const boardDir = path.join(dir, node);
    await mkdir(path.join(boardDir, 'dp'), { recursive: true });
    api.createNode(node, { 'kubernetes.io/hostname': node });
    api.addToken(`${token}-${node}`, `system:node:${node}`);
    await writeFile(path.join(boardDir, 'kubeconfig'), api.kubeconfig(`${token}-${node}`), { mode: 0o600 });
    const kubelet = new FakeKubelet({ dir: path.join(boardDir, 'dp') });
    await kubelet.start();
    const ports = { pluginPort: await freePort(), labellerPort: await freePort() };
    await writeFile(path.join(boardDir, 'config.yaml'), boardConfig(ports));
    await checkConfig(path.join(boardDir, 'config.yaml'));
    boards.push({ node, root: path.join(FIXTURES, root), dir: boardDir, kubelet, kubeletUp: true, maintenance: path.join(boardDir, 'maintenance'), ...ports });
  }
  log(`API server stand-in ${url}; boards ${boards.map((b) => `${b.node} (${path.basename(b.root)})`).join(', ')}`);
  const byNode = new Map(boards.map((b) => [b.node, b]));
  ksm = new FakeKubeStateMetrics({
    api,
    allocatable: (node) => {
      const kubelet = byNode.get(node)?.kubelet;
      return kubelet && kubeletAllocatable(kubelet);
    },
    nodeLabelsAllowlist: ['riseproject.dev/board'],
  });
  const ksmUrl = await ksm.start();
  for (const b of boards) {
    startPlugin(b);
    startLabeller(b, path.join(b.dir, 'kubeconfig'));
  }
  statusTimer = setInterval(() => boards.forEach((b) => kubeletStatus(api, b, Date.now())), STATUS_CHECK_MS);
  await Promise.all(boards.map((b) => b.kubelet.waitFor(() => b.kubelet.allocatable(RESOURCE) === 1, 20_000, `${b.node} registration`)));
  await Promise.all(boards.flatMap((b) => [waitForMetrics(`${b.node} rise-device-plugin`, b.pluginPort), waitForMetrics(`${b.node} rise-node-labeller`, b.labellerPort)]));
  prometheus = await startPrometheus(programs.prometheus, dir, prometheusConfig(boards, ksmUrl), log);
  log(`prometheus ${prometheus.url}, scraping every ${SCRAPE_SECONDS} s; run of ${MINUTES} minutes`);
  const start = Math.floor(Date.now() / 1000);
  const at = async (fraction: number, what: string, act: () => Promise<void> | void): Promise<void> => {
    const due = start + fraction * MINUTES * 60;
    await sleep(Math.max(0, due * 1000 - Date.now()));
    log(what);
    await act();
  };
  const [b1, b2, b3] = boards as [Board, Board, Board];
  // The script: each event shows on one or more panels.
  await at(0.1, `${b1.node}: kubelet restarts`, () => b1.kubelet.restart());
  await at(0.15, `${b2.node}: kubelet restarts (an upgrade)`, () => b2.kubelet.restart());
  await at(0.2, `${b1.node}: kubelet restarts`, () => b1.kubelet.restart());
  await at(0.25, `${b2.node}: maintenance on`, () => writeFile(b2.maintenance, 'firmware update\n'));
  await at(0.3, `${b3.node}: someone deletes riseproject.dev/board`, () => api.editLabels(b3.node, { 'riseproject.dev/board': null }));
  await at(0.35, `${b1.node}: kubelet restarts`, () => b1.kubelet.restart());
  await at(0.4, `${b3.node}: kubelet stops`, () => {
    b3.kubeletUp = false;
    b3.kubelet.stop();
  });
  await at(0.45, `${b2.node}: maintenance off`, () => unlink(b2.maintenance));
  await at(0.5, 'API server answers 503 five times; someone edits a label on every Node', () => {
    api.failNext(5, 503);
    for (const b of boards) api.editLabels(b.node, { 'riseproject.dev/harts': '1' });
  });
  await at(0.55, `${b3.node}: kubelet back`, async () => {
    await b3.kubelet.start();
    b3.kubeletUp = true;
  });
  await at(0.6, `${b1.node}: rise-device-plugin killed (SIGKILL) and started again, as systemd would`, async () => {
    await stop(b1.plugin, 'SIGKILL');
    await sleep(2000);
    startPlugin(b1);
  });
  await at(0.7, `${b1.node}: kubelet restarts`, () => b1.kubelet.restart());
  await at(0.75, `${b2.node}: maintenance on`, () => writeFile(b2.maintenance, 'disk swap\n'));
  await at(0.8, `${b3.node}: rise-node-labeller stopped`, () => stop(b3.labeller));
  await at(0.85, `${b1.node}: kubelet restarts`, () => b1.kubelet.restart());
  await at(1, 'run over', () => undefined);
  // One more scrape and rule evaluation, so the last state is in.
  await sleep(SCRAPE_SECONDS * 2000);
  const end = Math.floor(Date.now() / 1000);

  const dashboard = await readDashboard();
  const data = new Map<number, PanelData>();
  const step = Math.max(SCRAPE_SECONDS, Math.round((end - start) / 300));
  for (const panel of dashboard.panels) {
    if (panel.type === 'stat') {
      const target = panel.targets[0];
      data.set(panel.id, { kind: 'stat', value: target && (await queryInstant(prometheus.url, fillVariables(target.expr), end)) });
    } else {
      const series = [];
      for (const target of panel.targets) series.push(...(await queryRange(prometheus.url, fillVariables(target.expr), start, end, step, target.legendFormat)));
      data.set(panel.id, { kind: 'timeseries', series });
    }
    const d = data.get(panel.id);
    const unit = panel.fieldConfig.defaults.unit;
    if (d?.kind === 'stat') log(`panel "${panel.title}": ${d.value === undefined ? 'no data' : formatValue(d.value, unit)}`);
    else if (d?.kind === 'timeseries') {
      // What the picture shows of each series, to read beside it: the range and the last value.
      log(`panel "${panel.title}": ${d.series.length} series`);
      for (const s of d.series) {
        const values = s.points.map(([, v]) => v).filter(Number.isFinite);
        const shown = values.length ? `min ${formatValue(Math.min(...values), unit)}, max ${formatValue(Math.max(...values), unit)}, last ${formatValue(values[values.length - 1] ?? NaN, unit)}` : 'no values';
        log(`  ${s.name}: ${shown} (${values.length}/${s.points.length} steps)`);
      }
    }
  }
  const firing = await queryRange(prometheus.url, 'ALERTS{alertstate="firing"}', start, end, step, '{{alertname}} {{node}}');
  log(`alerts that fired during the run: ${firing.map((s) => s.name).join('; ') || 'none'}`);
  const { html, height } = previewHtml({
    dashboard,
    data,
    start,
    end,
    caption: `Prometheus scraping rise-device-plugin and rise-node-labeller on 3 boards (kubelet and API server stand-ins, kube-state-metrics stand-in), every ${SCRAPE_SECONDS} s`,
  });
  const page = path.join(dir, 'preview.html');
  await writeFile(page, html);
  // The sandbox refuses to start as root; the page is a local file of our own making.
  const sandbox = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  const shot = path.join(dir, 'dashboard.png');
  await new Promise<void>((resolve, reject) =>
    execFile(
      programs.chromium,
      [
        '--headless',
        ...sandbox,
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        `--user-data-dir=${path.join(dir, 'chromium')}`,
        '--hide-scrollbars',
        '--force-device-scale-factor=1',
        `--window-size=${PAGE_WIDTH},${height}`,
        `--screenshot=${shot}`,
        `file://${page}`,
      ],
      { timeout: 120_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`render: ${programs.chromium} failed: ${err.message}\n${stderr}`)) : resolve()),
    ),
  );
  // Chromium can exit 0 having written nothing (a page it could not load).
  const size = await stat(shot).then((s) => s.size, () => 0);
  if (size === 0) throw new Error(`render: ${programs.chromium} wrote no screenshot to ${shot}`);
  await mkdir(path.dirname(OUT), { recursive: true });
  await copyFile(shot, OUT);
  log(`wrote ${path.relative(process.cwd(), OUT)} (${PAGE_WIDTH}x${height}, ${Math.round(size / 1024)} KiB)`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  clearInterval(statusTimer);
  await prometheus?.stop();
  await Promise.all([...children].map((c) => stop(c)));
  for (const b of boards) b.kubelet.stop();
  await ksm?.stop();
  await api.stop();
  await rm(dir, { recursive: true, force: true });
}
