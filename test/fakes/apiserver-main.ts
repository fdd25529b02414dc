// Runs the fake API server as a process: `apiserver-main.js --port N [--host H] [--node NAME]... [--kubeconfig-out F --identity system:node:NAME]`.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FakeApiServer } from './apiserver.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    node: { type: 'string', multiple: true, default: [] },
    'kubeconfig-out': { type: 'string' },
    identity: { type: 'string', default: 'system:admin' },
  },
});

const server = new FakeApiServer();
const token = `token-${Math.random().toString(36).slice(2)}`;
server.addToken(token, values.identity ?? 'system:admin');
for (const name of values.node ?? []) server.createNode(name);
const url = await server.start(Number(values.port), values.host);
if (values['kubeconfig-out']) await writeFile(values['kubeconfig-out'], server.kubeconfig(token), { mode: 0o600 });
process.stdout.write(`${url}\n`);
const stop = (): void => void server.stop();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
