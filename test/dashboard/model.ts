// The shipped Grafana dashboard as data: its panels and queries, for the tests that check it and
// for the preview that draws it without Grafana.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export const DASHBOARD_FILE = path.resolve('packaging/monitoring/riscv-runner-node.dashboard.json');

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  datasource: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: 'stat' | 'timeseries';
  title: string;
  description?: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
  fieldConfig: {
    defaults: {
      unit?: string;
      decimals?: number;
      thresholds?: { steps: { color: string; value: number | null }[] };
      custom?: { fillOpacity?: number; stacking?: { mode: string }; thresholdsStyle?: { mode: string } };
    };
  };
}

export interface Variable {
  name: string;
  type: string;
  query: unknown;
}

export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

export async function readDashboard(file = DASHBOARD_FILE): Promise<Dashboard> {
  return JSON.parse(await readFile(file, 'utf8')) as Dashboard;
}

/** A query as Grafana sends it with "All" selected: the board and node variables match anything. */
export function fillVariables(expr: string): string {
  return expr.replace(/\$(board|node)\b/g, '.+');
}

/** The PromQL selector inside a variable's label_values(selector, label) query, if it has one. */
export function variableSelector(v: Variable): string | undefined {
  const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query?: unknown }).query : undefined;
  return typeof q === 'string' ? /^label_values\((.*), *\w+\)$/.exec(q)?.[1] : undefined;
}
