// The shipped Prometheus rules, through the real promtool: they load, their unit test passes, the
// unit test covers every alert both firing and quiet, and a wrong expectation makes it fail.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { fillVariables, readDashboard, variableSelector } from '../dashboard/model.js';
import { promtool } from '../helpers/promtool.js';
import { tempDir } from '../helpers/tmp.js';

const DIR = path.resolve('packaging/monitoring');
const RULES = 'riscv-runner-node.rules.yml';
const RULES_TEST = 'riscv-runner-node.rules.test.yml';

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string> }[];
}
interface TestGroup {
  name?: string;
  input_series: { series: string }[];
  alert_rule_test?: AlertTest[];
}

async function alertNames(): Promise<string[]> {
  const rules = parse(await readFile(path.join(DIR, RULES), 'utf8')) as { groups: { rules: { alert?: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
}

test('promtool check rules: the shipped rules load, every alert counted', async (t) => {
  const names = await alertNames();
  t.true(names.length >= 5, names.join(', '));
  const { code, output } = await promtool(['check', 'rules', RULES], { cwd: DIR });
  t.is(code, 0, output);
  t.regex(output, new RegExp(`SUCCESS: ${names.length} rules found`));
});

test('promtool test rules: the rules unit test passes', async (t) => {
  const { code, output } = await promtool(['test', 'rules', RULES_TEST], { cwd: DIR });
  t.is(code, 0, output);
  t.regex(output, /SUCCESS/);
});

test('the rules unit test fires every alert on some node and keeps it quiet on another in the same series', async (t) => {
  const groups = (parse(await readFile(path.join(DIR, RULES_TEST), 'utf8')) as { tests: TestGroup[] }).tests;
  for (const alert of await alertNames()) {
    const covering = groups.filter((g) => g.alert_rule_test?.some((a) => a.alertname === alert));
    t.true(covering.length > 0, `${alert}: no test evaluates it`);
    for (const group of covering) {
      const nodes = new Set(group.input_series.map((s) => /node="([^"]+)"/.exec(s.series)?.[1]).filter((n): n is string => !!n));
      const fired = new Set(
        (group.alert_rule_test ?? [])
          .filter((a) => a.alertname === alert)
          .flatMap((a) => a.exp_alerts ?? [])
          .map((e) => e.exp_labels?.node),
      );
      t.true(fired.size > 0, `${alert} (${group.name}): never expected to fire`);
      const quiet = [...nodes].filter((n) => !fired.has(n));
      t.true(quiet.length > 0, `${alert} (${group.name}): no node where it must stay quiet`);
    }
  }
});

// A healthy node per alert, and a test that claims the alert fires on it anyway: promtool must
// say FAILED. Were the rules, or promtool's test runner, to accept anything, this would pass.
const healthy: { alert: string; series: string[]; evalTime: string }[] = [
  {
    alert: 'RiseBoardNoRunnerSlot',
    evalTime: '20m',
    series: [
      'kube_node_labels{node="rv-01", label_riseproject_dev_board="scw-em-rv1"}',
      'kube_node_status_allocatable{node="rv-01", resource="riseproject_com_runner", unit="integer"}',
      'rise_device_plugin_maintenance{node="rv-01"}',
    ].map((s, i) => `${s}|${i === 2 ? '0x30' : '1x30'}`),
  },
  { alert: 'RiseDevicePluginReregistering', evalTime: '90m', series: ['rise_device_plugin_registrations_total{node="rv-01", resource="riseproject.com/runner", result="ok"}|1x120'] },
  { alert: 'RiseNodeLabellerOutOfSync', evalTime: '20m', series: ['rise_node_labeller_in_sync{node="rv-01"}|1x30'] },
  { alert: 'RiseNodeLabellerSyncStale', evalTime: '20m', series: ['rise_node_labeller_last_sync_timestamp_seconds{node="rv-01"}|0+60x30'] },
  { alert: 'RiseMetricsTargetDown', evalTime: '20m', series: ['up{job="rise-device-plugin", node="rv-01"}|1x30'] },
];

test('the healthy cases cover every alert', async (t) => {
  t.deepEqual(healthy.map((h) => h.alert).sort(), (await alertNames()).sort());
});

for (const { alert, series, evalTime } of healthy) {
  test(`promtool test rules fails a test that expects ${alert} on a healthy node`, async (t) => {
    const dir = await tempDir(t);
    await copyFile(path.join(DIR, RULES), path.join(dir, RULES));
    const unitTest = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series.map((s) => ({ series: s.split('|')[0], values: s.split('|')[1] })),
          alert_rule_test: [{ eval_time: evalTime, alertname: alert, exp_alerts: [{ exp_labels: { node: 'rv-01' } }] }],
        },
      ],
    };
    await writeFile(path.join(dir, 'wrong.test.yml'), JSON.stringify(unitTest));
    const { code, output } = await promtool(['test', 'rules', 'wrong.test.yml'], { cwd: dir });
    t.is(code, 1, output);
    t.regex(output, /FAILED/);
    t.regex(output, new RegExp(`alertname: ${alert}`));
    // It failed on the expectation, not on the file: nothing fired, one alert was expected.
    t.regex(output, /got:\[\]/);
  });
}

test('promtool check rules fails a rules file with an expression that does not parse', async (t) => {
  const dir = await tempDir(t);
  const broken = (await readFile(path.join(DIR, RULES), 'utf8')).replace('max by (node) (rise_node_labeller_in_sync) == 0', 'max by (node) (rise_node_labeller_in_sync == 0');
  await writeFile(path.join(dir, RULES), broken);
  const { code, output } = await promtool(['check', 'rules', RULES], { cwd: dir });
  t.is(code, 1, output);
  t.regex(output, /FAILED/);
});

// Each change makes one alert fire where it should not, or stay quiet where it should fire: the
// shipped unit test must catch it, or it does not pin down what the rules mean.
const mutations: { what: string; from: string; to: string }[] = [
  { what: 'maintenance no longer silences RiseBoardNoRunnerSlot', from: '(rise_device_plugin_maintenance) == 1)', to: '(rise_device_plugin_maintenance) == 2)' },
  { what: 'RiseBoardNoRunnerSlot ignores boards without any riseproject.com/runner', from: 'or on (node)\n              0 * max by (node)', to: 'and on (node)\n              0 * max by (node)' },
  { what: 'RiseDevicePluginReregistering at 13 an hour', from: ') >= 7', to: ') >= 13' },
  { what: 'RiseDevicePluginReregistering reads "more than 6" as > 6 (6 registrations can read 6.5)', from: ') >= 7', to: ') > 6' },
  { what: 'RiseDevicePluginReregistering counts refused registrations too', from: 'registrations_total{result="ok"}', to: 'registrations_total' },
  { what: 'RiseNodeLabellerOutOfSync after 3 minutes', from: '(rise_node_labeller_in_sync) == 0\n        for: 10m', to: '(rise_node_labeller_in_sync) == 0\n        for: 3m' },
  { what: 'RiseNodeLabellerSyncStale at 40 minutes', from: '> 1200', to: '> 2400' },
  { what: 'RiseMetricsTargetDown for every job', from: 'up{job=~"rise-device-plugin|rise-node-labeller"}', to: 'up' },
];

for (const { what, from, to } of mutations) {
  test(`the rules unit test fails when ${what}`, async (t) => {
    const dir = await tempDir(t);
    const rules = await readFile(path.join(DIR, RULES), 'utf8');
    t.true(rules.includes(from), `the rules no longer contain ${JSON.stringify(from)}`);
    await writeFile(path.join(dir, RULES), rules.replace(from, to));
    await copyFile(path.join(DIR, RULES_TEST), path.join(dir, RULES_TEST));
    const { code, output } = await promtool(['test', 'rules', RULES_TEST], { cwd: dir });
    t.is(code, 1, output);
    t.regex(output, /FAILED/);
  });
}

// The Grafana dashboard beside the rules: a Grafana 10+ JSON model whose every query is PromQL
// that Prometheus parses (checked by promtool as recording rules, the variables filled in).
test('the dashboard is a Grafana 10+ model whose every panel queries the Prometheus data source variable', async (t) => {
  const d = await readDashboard();
  // Grafana 10.0 writes schema 38; older Grafanas would migrate it down badly, newer ones up.
  t.true(d.schemaVersion >= 38, `schemaVersion ${d.schemaVersion}`);
  t.truthy(d.uid);
  const ds = d.templating.list.find((v) => v.type === 'datasource');
  t.deepEqual(ds && { name: ds.name, query: ds.query }, { name: 'datasource', query: 'prometheus' });
  // Every panel filters on these two; a renamed variable would leave "$node" in the queries.
  t.deepEqual(d.templating.list.filter((v) => variableSelector(v)).map((v) => v.name), ['board', 'node']);
  t.is(new Set(d.panels.map((p) => p.id)).size, d.panels.length, 'panel ids are unique');
  for (const p of d.panels) {
    t.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    t.true(p.targets.length > 0, p.title);
    for (const target of p.targets) t.deepEqual(target.datasource, p.datasource, `${p.title} ${target.refId}`);
    t.true(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: within the 24 columns`);
  }
  // No two panels on the same cells, or Grafana pushes one down and the layout is not this one.
  const cells = new Set<string>();
  for (const p of d.panels)
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        t.false(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
});

test('every dashboard query is PromQL that promtool accepts, with the variables filled in', async (t) => {
  const d = await readDashboard();
  const rules = d.panels.flatMap((p) => p.targets.map((target, i) => ({ record: `dashboard:panel_${p.id}_${i}`, expr: fillVariables(target.expr) })));
  for (const v of d.templating.list) {
    const selector = variableSelector(v);
    if (selector) rules.push({ record: `dashboard:variable_${v.name}`, expr: fillVariables(selector) });
  }
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'dashboard.rules.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
  const { code, output } = await promtool(['check', 'rules', 'dashboard.rules.yml'], { cwd: dir });
  t.is(code, 0, output);
  t.regex(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

// A code's api_errors_total series is born at its first error, at 1 or more: increase() sees no
// rise in a series' first sample, so it alone would draw 0 for a board whose only errors were a
// burst between two scrapes (which is how the first full dashboard run drew five 503s).
test('the API errors query counts the errors of a series born within the hour, and only the rise of an older one', async (t) => {
  const d = await readDashboard();
  const target = d.panels.flatMap((p) => p.targets).find((x) => x.expr.includes('rise_node_labeller_api_errors_total'));
  t.truthy(target, 'a panel queries rise_node_labeller_api_errors_total');
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'none.rules.yml'), 'groups: []\n');
  const series = (node: string, code: string, values: string) => ({ series: `rise_node_labeller_api_errors_total{job="rise-node-labeller", instance="x", node="${node}", code="${code}"}`, values });
  const unitTest = {
    rule_files: ['none.rules.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          // Born at 2 at minute 120, a burst between two scrapes: 2 errors in the hour.
          series('rv-01', '503', '_x120 2x30'),
          // At 1 long before the hour, 4 since minute 100: 3 errors in the hour.
          series('rv-02', '403', '1x100 4x50'),
          // Born at 1 at minute 100, gone at 130 (the labeller stopped): 1 error in the hour.
          series('rv-03', 'network', '_x100 1x29'),
        ],
        promql_expr_test: [
          {
            expr: fillVariables(target?.expr ?? ''),
            eval_time: '150m',
            exp_samples: [
              { labels: '{node="rv-01", code="503"}', value: 2 },
              { labels: '{node="rv-02", code="403"}', value: 3 },
              { labels: '{node="rv-03", code="network"}', value: 1 },
            ],
          },
        ],
      },
    ],
  };
  await writeFile(path.join(dir, 'api-errors.test.yml'), JSON.stringify(unitTest));
  const { code, output } = await promtool(['test', 'rules', 'api-errors.test.yml'], { cwd: dir });
  t.is(code, 0, output);
});
