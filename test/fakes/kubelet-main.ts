// Runs the kubelet stand-in as a process (demo, package e2e): records what it sees into a JSON state file.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FakeKubelet } from './kubelet.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/var/lib/kubelet/device-plugins' },
    state: { type: 'string' },
    'refuse-registrations': { type: 'string', default: '0' },
    quiet: { type: 'boolean', default: false },
  },
});

const dir = values.dir ?? '/var/lib/kubelet/device-plugins';
const kubelet = new FakeKubelet({ dir, refuseRegistrations: Number(values['refuse-registrations']) });
const log = (line: string): void => {
  if (!values.quiet) process.stdout.write(`fake-kubelet: ${line}\n`);
};

let writing: Promise<void> = Promise.resolve();
function saveState(): void {
  const file = values.state;
  if (!file) return;
  const resources = [...new Set(kubelet.registrations.map((r) => r.resourceName))];
  const state = {
    pid: process.pid,
    registrations: kubelet.registrations.map((r) => ({ resourceName: r.resourceName, endpoint: r.endpoint, version: r.version, options: r.options })),
    devices: Object.fromEntries(resources.map((r) => [r, kubelet.devices(r)])),
    capacity: Object.fromEntries(resources.map((r) => [r, kubelet.capacity(r)])),
    allocatable: Object.fromEntries(resources.map((r) => [r, kubelet.allocatable(r)])),
    streamsOpened: Object.fromEntries(kubelet.streamsOpened),
  };
  // Rename into place so a reader never sees half a file.
  writing = writing.then(async () => {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(tmp, file);
  });
}

kubelet.on('registered', (r: { resourceName: string; endpoint: string }) => {
  log(`registered ${r.resourceName} at ${r.endpoint}`);
  saveState();
});
kubelet.on('devices', (u: { resourceName: string; devices: Array<{ ID: string; health: string }> }) => {
  log(`${u.resourceName}: ${u.devices.map((d) => `${d.ID}=${d.health}`).join(' ') || '(no devices)'}`);
  saveState();
});
kubelet.on('streamEnded', (resource: string) => {
  log(`${resource}: ListAndWatch ended, allocatable 0`);
  saveState();
});

const shutdown = (): void => {
  kubelet.stop();
  void writing.then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await mkdir(dir, { recursive: true });
await kubelet.start();
saveState();
log(`listening on ${kubelet.socketPath}`);
