// Child process for the notifier tests: sends each kind of message through the chosen backend.
import { createNotifier } from '../../src/common/notifier.js';
import { createLogger } from '../../src/common/logger.js';

const mode = process.argv[2] ?? 'native';
const logger = createLogger({ level: 'debug', journal: false, write: (l) => process.stderr.write(l) });
const notifier = createNotifier({
  env: process.env,
  abi: process.versions.modules,
  nativeDirs: [],
  logger,
  // "fallback": behave as on a Node whose ABI has no build, e.g. a packaged build for another Node.
  ...(mode === 'fallback'
    ? {
        loadNative: () => {
          throw new Error('The module was compiled against a different Node.js version');
        },
      }
    : {}),
});
notifier.status('starting up');
notifier.ready();
notifier.status('registered with kubelet: riseproject.com/runner 1/1 healthy');
notifier.watchdog();
notifier.stopping();
await notifier.flush();
process.stdout.write(`${notifier.backend}\n`);
