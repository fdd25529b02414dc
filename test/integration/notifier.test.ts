// The notifier delivers READY, STATUS, WATCHDOG and STOPPING to a real unix datagram socket, both ways.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { createNotifier, nullNotifier } from '../../src/common/notifier.js';
import { memoryLogger } from '../../src/common/logger.js';
import { NotifyListener } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../helpers/notify-child.js', import.meta.url));
const EXPECTED = [
  'STATUS=starting up',
  'READY=1',
  'STATUS=registered with kubelet: riseproject.com/runner 1/1 healthy',
  'WATCHDOG=1',
  'STOPPING=1',
];

for (const mode of ['native', 'fallback'] as const) {
  test.serial(`${mode === 'native' ? 'sd-notify build' : 'systemd-notify fallback'} delivers every message in order`, async (t) => {
    const dir = await tempDir(t);
    const listener = await NotifyListener.start(dir);
    t.teardown(() => listener.close());
    const { stdout, stderr } = await run(process.execPath, [CHILD, mode], {
      env: { ...process.env, NOTIFY_SOCKET: listener.socketPath },
    });
    t.is(stdout.trim(), mode === 'native' ? 'sd-notify' : 'systemd-notify');
    await listener.waitFor((a) => a.includes('STOPPING=1'));
    t.deepEqual(
      listener.assignments.filter((a) => a !== 'BARRIER=1'),
      EXPECTED,
    );
    if (mode === 'fallback') {
      // One warning that says what to do, not one per message.
      const warnings = stderr.split('\n').filter((l) => l.includes(' warn '));
      t.is(warnings.length, 1);
      t.regex(warnings[0] ?? '', /no sd-notify build for this Node \(ABI \d+\); using systemd-notify, so the unit needs NotifyAccess=all/);
      // systemd-notify waits on a barrier after each message (it only returns once the manager
      // closed the fd), which is what makes a message from a short-lived helper count.
      const barriers = listener.messages.filter((m) => m.message.includes('BARRIER=1'));
      t.is(barriers.length, EXPECTED.length);
      t.true(barriers.every((m) => m.fds === 1));
    } else {
      t.false(stderr.includes('warn'), stderr);
    }
  });
}

test('without NOTIFY_SOCKET the notifier does nothing', (t) => {
  const n = createNotifier({ env: {}, abi: process.versions.modules, nativeDirs: [], logger: memoryLogger() });
  t.is(n, nullNotifier);
  t.is(n.backend, 'none');
});

test('a fallback that cannot run warns once, not on every message', async (t) => {
  const logger = memoryLogger();
  const n = createNotifier({
    env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' },
    abi: '0',
    nativeDirs: [],
    logger,
    systemdNotify: '/nonexistent/systemd-notify',
    loadNative: () => {
      throw new Error('no build');
    },
  });
  n.ready();
  n.watchdog();
  n.watchdog();
  await n.flush();
  const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);
  t.is(warnings.length, 2, warnings.join('\n'));
  t.regex(warnings[1] ?? '', /^failed to notify systemd with \/nonexistent\/systemd-notify: /);
});
