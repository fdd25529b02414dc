// Draws the dashboard's panels as one static HTML page (inline SVG), from query results already
// fetched: Grafana is not in Debian, so this stands in for its rendering of the same panels,
// laid out by their gridPos, with their titles, units, legends, stacking and threshold lines.
import type { Dashboard, Panel } from './model.js';

export interface Series {
  /** The legend text, legendFormat already applied. */
  name: string;
  /** [unix seconds, value]; NaN where Prometheus answered NaN (no data in the window). */
  points: [number, number][];
}

export type PanelData = { kind: 'stat'; value: number | undefined } | { kind: 'timeseries'; series: Series[] };

export interface PreviewInput {
  dashboard: Dashboard;
  data: Map<number, PanelData>;
  /** The time range drawn, unix seconds. */
  start: number;
  end: number;
  /** One line under the title: where the numbers come from. */
  caption: string;
}

// Grafana's classic palette, in its order.
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a', '#447ebc', '#c15c17'];
const COLORS: Record<string, string> = { green: '#73bf69', red: '#f2495c', blue: '#5794f2', yellow: '#fade2a', orange: '#ff9830' };
export const PAGE_WIDTH = 1600;
const COLUMN = PAGE_WIDTH / 24;
// Grafana's grid: 30 px a row and 8 px between panels.
const ROW = 30;
const GAP = 8;
const HEADER = 64;

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A value in the panel's unit, as Grafana would print it (the units the dashboard uses). */
export function formatValue(value: number, unit: string | undefined, decimals?: number): string {
  if (!Number.isFinite(value)) return '–';
  const fixed = (v: number, d = 2): string => {
    const text = v.toFixed(decimals ?? d);
    return decimals === undefined ? String(Number(text)) : text;
  };
  if (unit === 's') {
    const abs = Math.abs(value);
    if (abs === 0) return '0 s';
    if (abs < 1e-3) return `${fixed(value * 1e6)} µs`;
    if (abs < 1) return `${fixed(value * 1e3)} ms`;
    if (abs < 60) return `${fixed(value)} s`;
    if (abs < 3600) return `${fixed(value / 60, 1)} min`;
    return `${fixed(value / 3600, 1)} h`;
  }
  if (unit === 'bytes') {
    const steps = ['B', 'KiB', 'MiB', 'GiB'];
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < steps.length - 1) {
      v /= 1024;
      i++;
    }
    return `${fixed(v, 1)} ${steps[i]}`;
  }
  return fixed(value);
}

/** Round axis ticks from 0 to at least max. */
export function ticks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw) as number;
  const out: number[] = [];
  for (let v = 0; v < max + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  if ((out[out.length - 1] ?? 0) < max) out.push(Number((out.length * step).toPrecision(12)));
  return out;
}

/**
 * The y axis's ticks in the panel's unit, as Grafana picks them: whole numbers where the panel
 * shows no decimals, minutes and hours for durations past a minute, powers of 1024 for bytes.
 */
export function axisTicks(max: number, unit: string | undefined, decimals?: number): number[] {
  if (unit === 'bytes' && max >= 1024) {
    const scale = 1024 ** Math.min(3, Math.floor(Math.log(max) / Math.log(1024)));
    return ticks(max / scale).map((v) => v * scale);
  }
  if (unit === 's' && max > 60) {
    const raw = max / 4;
    const step = [60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400].find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
    const out: number[] = [];
    for (let v = 0; v < max + step; v += step) out.push(v);
    return out;
  }
  const out = ticks(max);
  if (decimals === 0 && (out[1] ?? 1) < 1) return ticks(Math.max(1, Math.ceil(max)), Math.max(1, Math.ceil(max)));
  return out;
}

function thresholdColor(panel: Panel, value: number): string {
  let color = 'green';
  for (const step of panel.fieldConfig.defaults.thresholds?.steps ?? []) if (step.value === null || value >= step.value) color = step.color;
  return COLORS[color] ?? color;
}

/**
 * The stacked sums, series by series, at each series' own timestamps (they share the query's
 * steps), and under each the sum it stands on. A NaN stays a gap and adds nothing.
 */
function stack(series: Series[]): { stacked: Series[]; bases: Map<number, number>[] } {
  const sums = new Map<number, number>();
  const bases: Map<number, number>[] = [];
  const stacked = series.map((s) => {
    const base = new Map<number, number>();
    bases.push(base);
    return {
      name: s.name,
      points: s.points.map(([t, v]): [number, number] => {
        const below = sums.get(t) ?? 0;
        base.set(t, below);
        if (!Number.isFinite(v)) return [t, Number.NaN];
        sums.set(t, below + v);
        return [t, below + v];
      }),
    };
  });
  return { stacked, bases };
}

/** The stretches of a series between NaNs: each is drawn as one line, with a gap between. */
function finiteRuns(points: [number, number][]): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  for (const [t, v] of points) {
    if (Number.isFinite(v)) run.push([t, v]);
    else if (run.length) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length) runs.push(run);
  return runs;
}

/** stepAfter, as the panels ask: each value held until the next sample. */
function stepPath(points: [number, number][], x: (t: number) => number, y: (v: number) => number): string {
  return points.map(([t, v], j) => (j === 0 ? `M${x(t).toFixed(1)},${y(v).toFixed(1)}` : `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`)).join('');
}

function timeseriesSvg(panel: Panel, raw: Series[], start: number, end: number, width: number, height: number): string {
  const unit = panel.fieldConfig.defaults.unit;
  const { stacked: series, bases } = panel.fieldConfig.defaults.custom?.stacking?.mode === 'normal' ? stack(raw) : { stacked: raw, bases: [] };
  const threshold = panel.fieldConfig.defaults.custom?.thresholdsStyle?.mode === 'line' ? panel.fieldConfig.defaults.thresholds?.steps.find((s) => s.value !== null)?.value : undefined;
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  const axis = axisTicks(Math.max(0, ...values, ...(threshold !== undefined && threshold !== null ? [threshold * 1.1] : [])), unit, panel.fieldConfig.defaults.decimals);
  const top = axis[axis.length - 1] ?? 1;
  const left = 70;
  const plotW = width - left - 12;
  const plotH = height - 22;
  const x = (t: number): number => left + ((t - start) / (end - start)) * plotW;
  const y = (v: number): number => 6 + plotH - (v / top) * (plotH - 6);
  const parts: string[] = [];
  for (const tick of axis) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(tick)}" y2="${y(tick)}" stroke="#2c3235"/>`);
    parts.push(`<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${escapeHtml(formatValue(tick, unit, panel.fieldConfig.defaults.decimals))}</text>`);
  }
  const minutes = (end - start) / 60;
  const everyMin = minutes > 60 ? 15 : minutes > 20 ? 5 : 2;
  for (let t = Math.ceil(start / (everyMin * 60)) * everyMin * 60; t <= end; t += everyMin * 60) {
    const d = new Date(t * 1000);
    const label = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    // A label so close to the axis that it would run into the y axis's "0" is left out.
    if (x(t) - left >= 20) parts.push(`<text x="${x(t)}" y="${height - 4}" text-anchor="middle">${label}</text>`);
  }
  if (threshold !== undefined && threshold !== null)
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(threshold)}" y2="${y(threshold)}" stroke="#f2495c" stroke-dasharray="6 4"/>`);
  // A stacked series filled at the panel's fillOpacity down to the one below it, as Grafana fills
  // it. Unstacked ones are left as lines: in a still picture the fills of several series at one
  // value pile up into an opaque block that hides which line is where.
  const opacity = (panel.fieldConfig.defaults.custom?.fillOpacity ?? 0) / 100;
  if (opacity > 0 && bases.length > 0)
    series.forEach((s, i) => {
      const below = bases[i];
      for (const r of finiteRuns(s.points)) {
        const first = r[0];
        const last = r[r.length - 1];
        if (!first || !last) continue;
        // The lower edge walked back from the last point to the first, each value held as the line holds it.
        const base = [...r].reverse().map(([t]): [number, number] => [t, below?.get(t) ?? 0]);
        const back = base.map(([t, v], j) => `${j === 0 ? '' : `V${y(v).toFixed(1)}`}H${x(t).toFixed(1)}`).join('');
        parts.push(
          `<path d="${stepPath(r, x, y)}V${y(base[0]?.[1] ?? 0).toFixed(1)}${back}V${y(first[1]).toFixed(1)}Z" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="${opacity}" stroke="none"/>`,
        );
      }
    });
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#73bf69';
    // A gap where the value is NaN or a step is missing, as Grafana draws with spanNulls off.
    const runs = finiteRuns(s.points);
    for (const r of runs) {
      parts.push(`<path d="${stepPath(r, x, y)}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
  });
  return `<svg width="${width}" height="${height}" font-size="11" fill="#9fa7b3">${parts.join('')}</svg>`;
}

function panelHtml(panel: Panel, data: PanelData | undefined, start: number, end: number): string {
  const left = panel.gridPos.x * COLUMN + GAP / 2;
  const top = HEADER + panel.gridPos.y * (ROW + GAP) + GAP / 2;
  const width = panel.gridPos.w * COLUMN - GAP;
  const height = panel.gridPos.h * (ROW + GAP) - GAP;
  let body = '<div class="empty">No data</div>';
  if (data?.kind === 'stat' && data.value !== undefined) {
    const color = thresholdColor(panel, data.value);
    body = `<div class="stat" style="color:${color}">${escapeHtml(formatValue(data.value, panel.fieldConfig.defaults.unit, panel.fieldConfig.defaults.decimals))}</div>`;
  } else if (data?.kind === 'timeseries' && data.series.length > 0) {
    const legend = data.series
      .map((s, i) => `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${escapeHtml(s.name)}</span>`)
      .join('');
    const legendRows = Math.ceil(data.series.length / Math.max(1, Math.floor(width / 230)));
    body = timeseriesSvg(panel, data.series, start, end, width - 16, height - 40 - legendRows * 17) + `<div class="legend">${legend}</div>`;
  }
  return `<div class="panel" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px"><div class="title">${escapeHtml(panel.title)}</div>${body}</div>`;
}

/** The page, and the height to screenshot it at. */
export function previewHtml(input: PreviewInput): { html: string; height: number } {
  const { dashboard, data, start, end, caption } = input;
  const rows = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const height = HEADER + rows * (ROW + GAP) + GAP;
  const range = `${new Date(start * 1000).toISOString().slice(0, 16).replace('T', ' ')} – ${new Date(end * 1000).toISOString().slice(11, 16)} UTC`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(dashboard.title)}</title><style>
body { margin: 0; background: #111217; color: #ccccdc; font: 13px Inter, "DejaVu Sans", sans-serif; width: ${PAGE_WIDTH}px; height: ${height}px; position: relative; }
.header { position: absolute; left: 8px; top: 8px; }
.header h1 { font-size: 18px; margin: 0 0 4px; font-weight: 500; }
.header p { margin: 0; color: #8e8e9e; font-size: 12px; }
.panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #26292f; border-radius: 2px; padding: 6px 8px; overflow: hidden; }
.title { font-weight: 500; margin-bottom: 4px; white-space: nowrap; }
.stat { font-size: 40px; font-weight: 500; text-align: center; margin-top: 14px; }
.empty { color: #6e6e7e; text-align: center; margin-top: 30px; }
.legend { font-size: 11px; color: #ccccdc; }
.legend span { display: inline-block; width: 230px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.legend i { display: inline-block; width: 12px; height: 3px; margin: 0 6px 3px 0; vertical-align: middle; }
</style></head><body>
<div class="header"><h1>${escapeHtml(dashboard.title)}</h1><p>${escapeHtml(range)} · ${escapeHtml(caption)}</p></div>
${dashboard.panels.map((p) => panelHtml(p, data.get(p.id), start, end)).join('\n')}
</body></html>
`;
  return { html, height };
}
