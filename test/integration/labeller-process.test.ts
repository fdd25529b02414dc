// The node-labeller command as a process, on a board that has no credentials yet.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startCli } from '../helpers/cli-process.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../../test/fixtures/roots/scw-em-rv1', import.meta.url));

test('no kubeconfig yet: ready, says what it waits for, keeps waiting, stops cleanly', async (t) => {
  const dir = await tempDir(t, 'rrn-lp-');
  const listener = await NotifyListener.start(dir);
  t.teardown(() => listener.close());
  const kubeconfig = path.join(dir, 'not-yet', 'kubeconfig');
  const run = startCli(t, ['node-labeller', '--root', ROOT, '--kubeconfig', kubeconfig, '--node-name', 'rv-01'], { NOTIFY_SOCKET: listener.socketPath });
  const { child, exited } = run;
  await listener.waitFor((a) => a.includes('READY=1'));
  t.true(listener.assignments.some((a) => a === `STATUS=node rv-01: waiting for a usable kubeconfig at ${kubeconfig}`));
  t.regex(run.stderr(), new RegExp(`failed to load kubeconfig ${kubeconfig}: .*; retrying in \\d+s`));
  t.is(child.exitCode, null, 'still running, waiting');
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.true(listener.assignments.includes('STOPPING=1'));
});
