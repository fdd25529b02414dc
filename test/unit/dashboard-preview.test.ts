// The dashboard preview's drawing: units as Grafana prints them, axis ticks, and panels from data.
import test from 'ava';
import type { Dashboard, Panel } from '../dashboard/model.js';
import { axisTicks, formatValue, previewHtml, ticks, type PanelData } from '../dashboard/preview.js';
import { atEveryStep } from '../dashboard/prometheus.js';

for (const [value, unit, decimals, text] of [
  [0.0123, 's', undefined, '12.3 ms'],
  [0.0000042, 's', undefined, '4.2 µs'],
  [1.5, 's', undefined, '1.5 s'],
  [0, 's', undefined, '0 s'],
  [1500, 's', undefined, '25 min'],
  [7200, 's', undefined, '2 h'],
  [60 * 1024 * 1024, 'bytes', undefined, '60 MiB'],
  [512, 'bytes', undefined, '512 B'],
  [3, 'short', 0, '3'],
  [6.545, 'short', 0, '7'],
  [6.546, 'short', undefined, '6.55'],
  [Number.NaN, 's', undefined, '–'],
] as const) {
  test(`formatValue(${value}, ${unit}) is ${text}`, (t) => t.is(formatValue(value, unit, decimals), text));
}

for (const [max, expected] of [
  [0, [0, 1]],
  [1, [0, 0.25, 0.5, 0.75, 1]],
  [3, [0, 1, 2, 3]],
  [7, [0, 2, 4, 6, 8]],
  [1320, [0, 500, 1000, 1500]],
  [0.013, [0, 0.005, 0.01, 0.015]],
] as const) {
  test(`ticks(${max}) reach at least the maximum in round steps`, (t) => t.deepEqual(ticks(max), [...expected]));
}

const MiB = 1024 * 1024;
for (const [max, unit, decimals, expected] of [
  // Durations past a minute in whole minutes, not 500 s.
  [1320, 's', undefined, [0, 600, 1200, 1800]],
  [300, 's', undefined, [0, 120, 240, 360]],
  [29.8, 's', undefined, [0, 10, 20, 30]],
  [0.48, 's', undefined, [0, 0.2, 0.4, 0.6]],
  // Bytes in round MiB, not 47.7 MiB.
  [143 * MiB, 'bytes', undefined, [0, 50 * MiB, 100 * MiB, 150 * MiB]],
  [700, 'bytes', undefined, [0, 200, 400, 600, 800]],
  // No decimals: whole steps, not 0, 0, 1, 1, 1.
  [1, 'short', 0, [0, 1]],
  [2, 'short', 0, [0, 1, 2]],
  [6.3, 'short', 0, [0, 2, 4, 6, 8]],
  [1, 'short', undefined, [0, 0.25, 0.5, 0.75, 1]],
] as const) {
  test(`axisTicks(${max}, ${unit}, decimals ${decimals}) is ${expected.join(', ')}`, (t) => t.deepEqual(axisTicks(max, unit, decimals), [...expected]));
}

test('atEveryStep: a point at each step, NaN at the steps Prometheus left out', (t) => {
  const points = atEveryStep([[100, '1'], [110, '2'], [130, '4']], 100, 140, 10);
  t.deepEqual(points.map(([time]) => time), [100, 110, 120, 130, 140]);
  t.deepEqual(points.map(([, v]) => (Number.isNaN(v) ? 'gap' : v)), [1, 2, 'gap', 4, 'gap']);
});

function panel(id: number, type: Panel['type'], extra: Partial<Panel['fieldConfig']['defaults']> = {}): Panel {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  return {
    id,
    type,
    title: `panel <${id}>`,
    datasource: ds,
    gridPos: { x: (id - 1) * 12, y: 0, w: 12, h: 8 },
    targets: [{ refId: 'A', expr: 'up', datasource: ds }],
    fieldConfig: { defaults: { unit: 'short', ...extra } },
  };
}

test('previewHtml: stat coloured by its thresholds, series as paths with gaps at NaN, legend and titles escaped, empty panels say so', (t) => {
  const dashboard: Dashboard = {
    title: 'fleet',
    uid: 'x',
    schemaVersion: 39,
    panels: [
      panel(1, 'stat', { thresholds: { steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] } }),
      panel(2, 'timeseries'),
      { ...panel(3, 'timeseries'), gridPos: { x: 0, y: 8, w: 24, h: 8 } },
    ],
    templating: { list: [] },
  };
  const data = new Map<number, PanelData>([
    [1, { kind: 'stat', value: 2 }],
    [2, { kind: 'timeseries', series: [{ name: 'rv-01 <ok>', points: [[0, 1], [60, 1], [120, Number.NaN], [180, 2], [240, 2]] }] }],
  ]);
  const { html, height } = previewHtml({ dashboard, data, start: 0, end: 240, caption: 'test' });
  t.regex(html, /<div class="stat" style="color:#f2495c">2<\/div>/);
  t.is(html.match(/<path /g)?.length, 2, 'one path each side of the NaN');
  t.true(html.includes('rv-01 &lt;ok&gt;'));
  t.true(html.includes('panel &lt;2&gt;'));
  t.regex(html, /panel &lt;3&gt;<\/div><div class="empty">No data<\/div>/);
  // Two rows of 8 grid units at 38 px, under the header.
  t.is(height, 64 + 16 * 38 + 8);
});

test('previewHtml: a stacked panel fills each series down to the one below it; an unstacked one draws lines only', (t) => {
  const stacked: Panel = {
    ...panel(1, 'timeseries', { custom: { fillOpacity: 10, stacking: { mode: 'normal' } } }),
    gridPos: { x: 0, y: 0, w: 24, h: 8 },
  };
  const series = [
    { name: 'a', points: [[0, 1], [60, 1], [120, 1]] as [number, number][] },
    { name: 'b', points: [[0, 2], [60, Number.NaN], [120, 2]] as [number, number][] },
  ];
  const draw = (p: Panel): string =>
    previewHtml({ dashboard: { title: 'x', uid: 'x', schemaVersion: 39, panels: [p], templating: { list: [] } }, data: new Map([[p.id, { kind: 'timeseries', series }]]), start: 0, end: 120, caption: '' }).html;
  const html = draw(stacked);
  const fills = [...html.matchAll(/<path d="([^"]+)" fill="(#[0-9a-f]+)" fill-opacity="0.1"/g)];
  // a: one run; b: two runs around its NaN. Lines: a once, b twice.
  t.is(fills.length, 3);
  t.is(html.match(/fill="none"/g)?.length, 3);
  // b stands on a (1) and reaches 1 + 2: its fill's top is at 3 and its bottom at 1, never at 0.
  const ys = (d: string): number[] => [...d.matchAll(/(?:M[\d.]+,|V)([\d.]+)/g)].map((m) => Number(m[1]));
  const [aFill, bFill] = [fills[0]?.[1] ?? '', fills[1]?.[1] ?? ''];
  t.true(Math.max(...ys(bFill)) < Math.max(...ys(aFill)), 'b\'s fill ends above the floor a\'s reaches');
  const unstacked = draw({ ...stacked, fieldConfig: { defaults: { unit: 'short', custom: { fillOpacity: 10 } } } });
  t.false(unstacked.includes('fill-opacity'));
});
