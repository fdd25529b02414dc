// The packaged entry point as a process: READY after registering, SIGTERM, exit codes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { FakeKubelet } from '../fakes/kubelet.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function runCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

test('READY=1 only after registering; SIGTERM: STOPPING=1, socket removed, exit 0', async (t) => {
  const dir = await tempDir(t, 'rrn-proc-');
  // Not in the device-plugins dir: the kubelet removes every socket there when it starts.
  const listener = await NotifyListener.start(await tempDir(t, 'rrn-notify-'));
  t.teardown(() => listener.close());
  const kubelet = new FakeKubelet({ dir, refuseRegistrations: 1 });
  t.teardown(() => kubelet.stop());
  const p = runCli(['device-plugin', '--device-plugin-dir', dir, '--maintenance-file', path.join(dir, 'maintenance')], {
    NOTIFY_SOCKET: listener.socketPath,
    RISCV_RUNNER_NODE_CONFIG: path.join(dir, 'absent-is-fine-only-by-default.yaml'),
  }).exited;
  // An explicitly named config file must exist: that start fails with 78 before serving.
  t.is(await p, 78);

  const run = runCli(['device-plugin', '--device-plugin-dir', dir, '--maintenance-file', path.join(dir, 'maintenance')], {
    NOTIFY_SOCKET: listener.socketPath,
  });
  t.teardown(() => run.child.kill('SIGKILL'));
  await listener.waitFor((a) => a.some((s) => s.startsWith('STATUS=waiting for kubelet')));
  t.false(listener.assignments.includes('READY=1'));
  await kubelet.start();
  await listener.waitFor((a) => a.includes('READY=1'));
  t.is(kubelet.registrations.length, 1, 'the refused registration was retried');
  const ready = listener.assignments.indexOf('READY=1');
  t.true(ready > listener.assignments.findIndex((s) => s.startsWith('STATUS=waiting for kubelet')));
  t.true(listener.assignments.includes('STATUS=registered with kubelet: riseproject.com/runner 1/1 healthy'));
  t.true(existsSync(path.join(dir, 'rise-riscv-runner.sock')));

  const sentAt = Date.now();
  run.child.kill('SIGTERM');
  const code = await run.exited;
  const took = Date.now() - sentAt;
  t.is(code, 0, run.stderr());
  t.true(listener.assignments.includes('STOPPING=1'));
  t.false(existsSync(path.join(dir, 'rise-riscv-runner.sock')));
  t.log(`SIGTERM → exit in ${took} ms`);
});

test('invalid config: exit 78 and the message names file and key', async (t) => {
  const dir = await tempDir(t, 'rrn-bad-');
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, 'deviceplugin:\n  resourceName: foo bar\n  deviceCount: 0\n');
  const run = runCli(['device-plugin', '--config', file, '--device-plugin-dir', dir], {});
  t.is(await run.exited, 78);
  t.regex(run.stderr(), new RegExp(`config ${file}: deviceplugin\\.resourceName 'foo bar' is not a valid extended resource name`));
  t.regex(run.stderr(), /deviceplugin\.deviceCount 0 must be at least 1/);
});

test('invalid flag and unknown flag: exit 78, not a crash', async (t) => {
  const dir = await tempDir(t, 'rrn-flag-');
  const bad = runCli(['device-plugin', '--device-count', '0', '--device-plugin-dir', dir], {});
  t.is(await bad.exited, 78);
  t.regex(bad.stderr(), /--device-count 0 must be at least 1/);
  const unknown = runCli(['device-plugin', '--device-cuont', '2'], {});
  t.is(await unknown.exited, 78);
  t.regex(unknown.stderr(), /Unknown argument/);
});

test('check-config: ok prints the settings in effect; a bad file exits 78', async (t) => {
  const dir = await tempDir(t, 'rrn-cc-');
  const good = path.join(dir, 'good.yaml');
  await writeFile(good, 'deviceplugin:\n  deviceCount: 2\n');
  const ok = spawn(process.execPath, [CLI, 'check-config', good]);
  let out = '';
  ok.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  t.is(await new Promise((r) => ok.on('exit', r)), 0);
  t.regex(out, /ok; settings in effect/);
  t.regex(out, /deviceCount: 2/);
  const badFile = path.join(dir, 'bad.yaml');
  await writeFile(badFile, 'deviceplugin: [\n');
  const bad = runCli(['check-config', badFile], {});
  t.is(await bad.exited, 78);
  t.regex(bad.stderr(), /is not valid YAML at line/);
});

test('maintenance on/off/status through the command', async (t) => {
  const dir = await tempDir(t, 'rrn-mt-');
  const flag = path.join(dir, 'maintenance');
  const on = runCli(['maintenance', 'on', '--maintenance-file', flag, '--reason', 'firmware update'], {});
  t.is(await on.exited, 0);
  t.true(existsSync(flag));
  const status = spawn(process.execPath, [CLI, 'maintenance', 'status', '--maintenance-file', flag]);
  let out = '';
  status.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  t.is(await new Promise((r) => status.on('exit', r)), 0);
  t.regex(out, /maintenance on .*\n.*\nreason: firmware update/);
  const off = runCli(['maintenance', 'off', '--maintenance-file', flag], {});
  t.is(await off.exited, 0);
  t.false(existsSync(flag));
});
