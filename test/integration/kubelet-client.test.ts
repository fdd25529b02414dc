// The plugin's calls out, over real unix sockets: the probe of our own socket and the shared
// Registration channel.
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { KubeletRegistrar, probeDevicePlugin } from '../../src/deviceplugin/kubelet-client.js';
import { eventually } from '../helpers/eventually.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rrn-client-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A plain unix-socket server that does `onConnection` with every connection it accepts. */
async function rawServer(socket: string, onConnection: (c: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return server;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

test('the probe passes on a grpc-js server that serves the socket', async (t) => {
  const socket = path.join(await tempDir(t), 'plugin.sock');
  const server = new grpc.Server();
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  t.teardown(() => server.forceShutdown());
  await t.notThrowsAsync(probeDevicePlugin(socket, 5_000));
  // Twice: a probe leaves nothing behind that a second one would trip on.
  await t.notThrowsAsync(probeDevicePlugin(socket, 5_000));
});

const refusals: Array<{ name: string; serve: ((c: net.Socket) => void) | undefined; message: RegExp }> = [
  { name: 'a server that speaks another protocol', serve: (c) => c.end('SSH-2.0-OpenSSH_9.2\r\n'), message: /answered, but not as an HTTP\/2 server \(first bytes 5353482d/ },
  { name: 'an HTTP/2 frame that is not SETTINGS', serve: (c) => c.write(Buffer.from('000008060000000000', 'hex')), message: /not as an HTTP\/2 server/ },
  { name: 'a server that closes at once', serve: (c) => c.end(), message: /closed the connection before answering/ },
  { name: 'a server that never answers', serve: () => undefined, message: /no HTTP\/2 answer on .* within 200 ms/ },
  { name: 'no socket at all', serve: undefined, message: /ENOENT/ },
];

for (const row of refusals) {
  test(`the probe fails on ${row.name}`, async (t) => {
    const socket = path.join(await tempDir(t), 'plugin.sock');
    const accepted: net.Socket[] = [];
    if (row.serve) {
      const serve = row.serve;
      const server = await rawServer(socket, (c) => {
        accepted.push(c);
        c.on('error', () => undefined);
        serve(c);
      });
      t.teardown(async () => {
        for (const c of accepted) c.destroy();
        await close(server);
      });
    }
    const err = await t.throwsAsync(probeDevicePlugin(socket, 200));
    t.regex(err?.message ?? '', row.message);
  });
}

test('the probe accepts a SETTINGS frame that arrives a byte at a time', async (t) => {
  const socket = path.join(await tempDir(t), 'plugin.sock');
  const frame = Buffer.from('000000040000000000', 'hex');
  const server = await rawServer(socket, (c) => {
    c.on('error', () => undefined);
    let i = 0;
    const next = (): void => {
      if (i < frame.length && !c.destroyed) c.write(frame.subarray(i, ++i), () => setTimeout(next, 2));
    };
    next();
  });
  t.teardown(() => close(server));
  await t.notThrowsAsync(probeDevicePlugin(socket, 5_000));
});

test('connect opens the Registration channel before any Register, once per kubelet.sock identity', async (t) => {
  const socket = path.join(await tempDir(t), 'kubelet.sock');
  // An HTTP/2 server stands in for the kubelet: a channel's connection is an HTTP/2 session.
  const sessions: http2.ServerHttp2Session[] = [];
  const server = http2.createServer();
  server.on('session', (session) => {
    session.on('error', () => undefined);
    sessions.push(session);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const registrar = new KubeletRegistrar();
  t.teardown(async () => {
    registrar.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  registrar.connect(socket, 'first');
  t.true(await eventually(() => sessions.length === 1), 'the channel connects with no call on it');
  // Every resource calls connect when it sees kubelet.sock: the same identity is one channel.
  registrar.connect(socket, 'first');
  registrar.connect(socket, 'first');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(sessions.length, 1);

  // A recreated kubelet.sock is a new kubelet: a new channel, and the old one is closed.
  registrar.connect(socket, 'second');
  t.true(await eventually(() => sessions.length === 2), 'a channel for the new identity');
  t.true(await eventually(() => sessions[0]!.closed), 'the old channel is closed');
  t.false(sessions[1]!.closed);
});
