// Runs the DRA kubelet stand-in as a process (package e2e): records what it sees into a JSON state file.
// `kubelet-dra-main.js --registry-dir D --node NAME [--api URL --token T] --state FILE`
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FakeDraKubelet } from './kubelet-dra.js';

const { values } = parseArgs({
  options: {
    'registry-dir': { type: 'string', default: '/var/lib/kubelet/plugins_registry' },
    node: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
    state: { type: 'string' },
  },
});

const kubelet = new FakeDraKubelet({
  registryDir: values['registry-dir'] ?? '/var/lib/kubelet/plugins_registry',
  nodeName: values.node ?? '',
  ...(values.api && values.token ? { api: { url: values.api, token: values.token } } : {}),
});

let writing: Promise<void> = Promise.resolve();
function saveState(): void {
  const file = values.state;
  if (!file) return;
  const state = { pid: process.pid, plugins: kubelet.plugins(), registrations: kubelet.registrations, notifications: kubelet.notifications, wipes: kubelet.wipes };
  // Rename into place so a reader never sees half a file.
  writing = writing.then(async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  });
}
for (const event of ['registered', 'unregistered', 'notified', 'wiped']) kubelet.on(event, saveState);

const shutdown = (): void => {
  kubelet.stop();
  void writing.then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
await kubelet.start();
saveState();
