// A Prometheus server (Debian's /usr/bin/prometheus) on loopback in a temp dir, and the two
// queries of its HTTP API the dashboard preview needs.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Series } from './preview.js';

/** A port nothing listens on now: Prometheus takes a port number, not 0. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningPrometheus {
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts Prometheus (the binary at program) with config (YAML or JSON text) in dir and waits until it is ready. */
export async function startPrometheus(program: string, dir: string, config: string, log: (line: string) => void): Promise<RunningPrometheus> {
  const file = path.join(dir, 'prometheus.yml');
  await writeFile(file, config);
  const port = await freePort();
  const child = spawn(
    program,
    [`--config.file=${file}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => chunk.split('\n').filter(Boolean).forEach((l) => log(`[prometheus] ${l}`)));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`failed to start prometheus: ${err.message} (apt-get install prometheus)`)));
    child.once('exit', (code) => reject(new Error(`prometheus exited with status ${code} before it was ready`)));
  });
  const url = `http://127.0.0.1:${port}`;
  let gaveUp = false;
  const ready = (async () => {
    for (;;) {
      // Stop asking once it has failed: failed has the reason.
      if (gaveUp) return;
      try {
        if ((await fetch(`${url}/-/ready`)).ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (err) {
    gaveUp = true;
    throw err;
  }
  failed.catch(() => undefined);
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface ApiAnswer {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
}

async function api(url: string, endpoint: string, params: Record<string, string>): Promise<ApiAnswer['data']> {
  const response = await fetch(`${url}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
  const answer = (await response.json()) as ApiAnswer;
  if (answer.status !== 'success') throw new Error(`failed to query prometheus: ${answer.error ?? response.status} (query ${params['query']})`);
  return answer.data;
}

/** Grafana's legendFormat: {{label}} replaced; "__auto" or none is the series' labels. */
export function legend(format: string | undefined, metric: Record<string, string>): string {
  if (!format || format === '__auto') {
    const labels = Object.entries(metric).filter(([k]) => k !== '__name__');
    return labels.length ? `{${labels.map(([k, v]) => `${k}="${v}"`).join(', ')}}` : (metric['__name__'] ?? 'value');
  }
  return format.replace(/\{\{ *(\w+) *\}\}/g, (_, name: string) => metric[name] ?? '');
}

/**
 * A point at every step from start to end, NaN where values has none: Prometheus leaves out the
 * steps where a series has no sample (a target down, a series not born yet), and Grafana's data
 * source fills them in as nulls, so that the panel draws a gap there rather than a line across.
 */
export function atEveryStep(values: [number, string][], start: number, end: number, step: number): [number, number][] {
  const byTime = new Map(values.map(([t, v]) => [t, Number(v)]));
  const points: [number, number][] = [];
  for (let t = start; t <= end; t += step) points.push([t, byTime.get(t) ?? Number.NaN]);
  return points;
}

export async function queryRange(url: string, query: string, start: number, end: number, step: number, legendFormat?: string): Promise<Series[]> {
  const data = await api(url, 'query_range', { query, start: String(start), end: String(end), step: String(step) });
  return data.result
    .map((r) => ({ name: legend(legendFormat, r.metric), points: atEveryStep(r.values ?? [], start, end, step) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The first series' value at time, or undefined when the query returns nothing. */
export async function queryInstant(url: string, query: string, time: number): Promise<number | undefined> {
  const data = await api(url, 'query', { query, time: String(time) });
  const value = data.result[0]?.value?.[1];
  return value === undefined ? undefined : Number(value);
}
