// The command line as a user meets it: help text and pipes, through a real child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const fixtures = path.resolve('test/fixtures');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; closeStdout closes our end of its stdout pipe before it can write a byte. */
function run(args: string[], options: { closeStdout?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

for (const command of [[], ['device-plugin'], ['node-labeller'], ['devices'], ['maintenance', 'status']]) {
  test(`${['riscv-runner-node', ...command].join(' ')} --help: one line per command or option, no word cut`, async (t) => {
    const { code, stdout } = await run([...command, '--help']);
    t.is(code, 0);
    const rows = stdout.split('\n').filter((line) => line.startsWith(' '));
    t.true(rows.length >= 2, stdout);
    // A row that ran onto a second line would leave a line indented past the first column.
    for (const row of rows) t.regex(row, /^ {2}\S/, `a continuation line: ${JSON.stringify(row)}`);
    if (command.length === 0) t.regex(stdout, /advertises riseproject\.com\/runner\n/);
  });
}

test('detect into a pipe its reader already closed: exit 0, no stack trace', async (t) => {
  const args = ['detect', '--config', path.join(fixtures, 'labeller/empty-config.yaml'), '--root', path.join(fixtures, 'roots/scw-em-rv1')];
  const result = await run(args, { closeStdout: true });
  t.is(result.code, 0, result.stderr);
  // detect says on stderr which rule chose the board; nothing else may be there.
  t.is(result.stderr.replace(/^board: riseproject\.dev\/board=scw-em-rv1: .*\n/, ''), '');
});

test('devices: the runner resource of a default config, as text and JSON; --allocate answers or refuses by name', async (t) => {
  const config = path.join(fixtures, 'labeller/empty-config.yaml');
  const text = await run(['devices', '--config', config, '--node-name', 'rv-01']);
  t.is(text.code, 0, text.stderr);
  t.is(
    text.stdout,
    [
      'node rv-01: 1 resource',
      'riseproject.com/runner (runner, deviceplugin.resourceName): 1/1 healthy, socket /var/lib/kubelet/device-plugins/rise-riscv-runner.sock',
      '  runner-0 Healthy',
      '',
    ].join('\n'),
  );
  const json = await run(['devices', '--json', '--config', config, '--node-name', 'rv-01', '--device-plugin-dir', '/tmp/dp']);
  const parsed = JSON.parse(json.stdout) as { nodeName: string; resources: Array<{ name: string; socket: string; devices: unknown[] }> };
  t.is(parsed.nodeName, 'rv-01');
  t.deepEqual(parsed.resources.map((r) => [r.name, r.socket, r.devices]), [
    ['riseproject.com/runner', '/tmp/dp/rise-riscv-runner.sock', [{ ID: 'runner-0', health: 'Healthy' }]],
  ]);
  const ok = await run(['devices', '--config', config, '--allocate', 'riseproject.com/runner=runner-0']);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(JSON.parse(ok.stdout), { envs: {}, mounts: [], devices: [], annotations: {}, cdi_devices: [] });
  const unknown = await run(['devices', '--config', config, '--allocate', 'riseproject.com/runner=runner-3']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /the kubelet would be refused: unknown device 'runner-3' for riseproject\.com\/runner/);
  const missing = await run(['devices', '--config', config, '--allocate', 'example.com/none=0']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /serves no resource example\.com\/none \(it serves riseproject\.com\/runner\)/);
  const malformed = await run(['devices', '--config', config, '--allocate', 'riseproject.com/runner']);
  t.is(malformed.code, 78);
  t.regex(malformed.stderr, /must be RESOURCE=ID\[,ID…\]/);
});

test('devices --root: PCI pools from a fixture sysfs like the other kinds, and --allocate gives sriov\'s env', async (t) => {
  const { buildPciTree, README_HOST, writeRouteTable } = await import('../helpers/pci-tree.js');
  const { SRIOV_README_CONFIG } = await import('../helpers/peer-examples.js');
  const { tempDir } = await import('../helpers/tmp.js');
  const { writeFile } = await import('node:fs/promises');
  const root = await tempDir(t, 'rrn-cli-pci-');
  await buildPciTree(root, README_HOST);
  await writeRouteTable(root, ['eno1']);
  await writeFile(path.join(root, 'config.json'), SRIOV_README_CONFIG);
  const config = path.join(root, 'config.yaml');
  await writeFile(config, `deviceplugin:\n  pci: {file: ${path.join(root, 'config.json')}}\n`);
  const text = await run(['devices', '--config', config, '--root', root, '--node-name', 'rv-01', '--device-plugin-dir', '/tmp/dp']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^intel\.com\/intel_sriov_dpdk \(pci, deviceplugin\.pci\.file .*config\.json: resourceList\[1\]\): 3\/3 healthy, socket \/tmp\/dp\/intel\.com_intel_sriov_dpdk\.sock$/m);
  t.regex(text.stdout, /^ {2}0000:af:10\.2 Healthy numa 1$/m);
  t.regex(text.stdout, /^intel\.com\/old_selectors_syntax_example .*: 0\/0 healthy.*\n {2}\(no devices: the Node shows capacity 0\)$/m);
  const json = JSON.parse((await run(['devices', '--json', '--config', config, '--root', root, '--node-name', 'rv-01'])).stdout) as { resources: Array<{ name: string; kind: string; devices: Array<{ ID: string }> }> };
  t.like(json.resources.find((r) => r.name === 'intel.com/intel_fpga'), { kind: 'pci', devices: [{ ID: '0000:5e:00.0', health: 'Healthy', numaNodes: [0] }] });
  const ok = await run(['devices', '--config', config, '--root', root, '--allocate', 'intel.com/intel_fpga=0000:5e:00.0']);
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(JSON.parse(ok.stdout), {
    envs: {
      PCIDEVICE_INTEL_COM_INTEL_FPGA: '0000:5e:00.0',
      PCIDEVICE_INTEL_COM_INTEL_FPGA_INFO: '{"0000:5e:00.0":{"generic":{"deviceID":"0000:5e:00.0"},"vfio":{"dev-mount":"/dev/vfio/130","mount":"/dev/vfio/vfio"}}}',
    },
    mounts: [],
    devices: ['/dev/vfio/vfio', '/dev/vfio/130'].map((p) => ({ container_path: p, host_path: p, permissions: 'rw' })),
    annotations: {},
    cdi_devices: [],
  });
});
