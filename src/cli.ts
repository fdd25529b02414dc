#!/usr/bin/env node
// Entry point of `riscv-runner-node`: parses argv, reads process.*, runs one command, sets the exit code.
import { fstatSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { systemClock } from './common/clock.js';
import { DEFAULT_CONFIG_FILE } from './common/config.js';
import { EXIT_CONFIG } from './common/errors.js';
import { LOG_LEVELS } from './common/logger.js';
import type { Runtime } from './common/runtime.js';

class UsageError extends Error {}

/** journald sets JOURNAL_STREAM=<dev>:<inode> of the stream it gave us; match it against stderr. */
function stderrIsJournal(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const st = fstatSync(2);
    return value === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

function makeRuntime(signal: AbortSignal, reloadListeners: Set<() => void>): Runtime {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return {
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    journal: stderrIsJournal(process.env['JOURNAL_STREAM']),
    pid: process.pid,
    hostname: hostname(),
    abi: process.versions.modules,
    // Packaged: /usr/lib/riscv-runner-node/native next to the bundle; from a checkout: ./native.
    nativeDirs: [path.join(here, 'native', 'sd-notify'), path.join(here, '..', '..', 'native', 'sd-notify')],
    clock: systemClock,
    // hrtime is CLOCK_MONOTONIC on Linux, the clock systemd compares MONOTONIC_USEC with.
    monotonicUsec: () => process.hrtime.bigint() / 1000n,
    onReload: (listener) => {
      reloadListeners.add(listener);
      return () => reloadListeners.delete(listener);
    },
    signal,
  };
}

/** Output errors: a closed stdout ends the command, a lost stderr must not end a daemon. */
function handleOutputErrors(): void {
  // A reader that stops early (`detect | head -1`) closes the pipe. It has what it wanted, so end
  // quietly with 0 rather than print a stack trace for an unhandled EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  // Logs go to stderr. If its reader is gone, a daemon goes on without its log rather than exit.
  process.stderr.on('error', () => undefined);
}

async function main(): Promise<void> {
  handleOutputErrors();
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals += 1;
    // A second signal means the operator will not wait: leave at once.
    if (signals > 1) process.exit(130);
    process.stderr.write(`received ${name}, shutting down\n`);
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP asks a daemon that reloads (the device plugin) to read its config again; any other
  // command keeps the default meaning of a hangup and stops.
  const reloadListeners = new Set<() => void>();
  const onHangup = (): void => {
    if (reloadListeners.size === 0) onSignal('SIGHUP');
    for (const listener of [...reloadListeners]) listener();
  };
  process.on('SIGHUP', onHangup);
  const rt = makeRuntime(controller.signal, reloadListeners);
  const env = process.env;

  const configOption = {
    type: 'string',
    describe: `configuration file (every key optional) [default: ${DEFAULT_CONFIG_FILE}]`,
  } as const;
  const logLevelOption = { type: 'string', choices: LOG_LEVELS, describe: 'log level [default: info, or logLevel in the config]' } as const;
  const rootOption = {
    type: 'string',
    default: '/',
    describe: 'filesystem root to read sys/ and proc/ from (for dry runs and tests)',
  } as const;

  let exitCode = 0;
  await yargs(hideBin(process.argv))
    .scriptName('riscv-runner-node')
    .env('RISCV_RUNNER_NODE')
    .strict()
    .usage('$0 <command> [options]\n\nHost services for RISC-V Kubernetes runner nodes.')
    .command(
      'device-plugin',
      'run the kubelet device plugin that advertises riseproject.com/runner',
      (y) =>
        y
          .option('config', configOption)
          .option('log-level', logLevelOption)
          .option('device-plugin-dir', {
            type: 'string',
            default: '/var/lib/kubelet/device-plugins',
            describe: "directory of kubelet.sock and of the plugin's own socket",
          })
          .option('resource-name', { type: 'string', describe: 'extended resource name [default: riseproject.com/runner]' })
          .option('device-count', { type: 'number', describe: 'number of runner devices [default: 1]' })
          .option('socket-name', { type: 'string', describe: 'socket file name [default: rise-riscv-runner.sock]' })
          .option('maintenance-file', {
            type: 'string',
            describe: 'devices are Unhealthy while this file exists [default: /etc/riscv-runner-node/maintenance]',
          })
          .option('root', { ...rootOption, describe: 'filesystem root to read dev/, sys/bus/pci and proc/net/route from (answers keep the real paths)' })
          .option('dev-dir', { type: 'string', describe: "where to list /dev entries [default: <root>/dev]; the unit points it at a read-only view of the host's /dev" })
          .option('route-file', {
            type: 'string',
            describe: "the routing table whose default-route interfaces PCI pools leave out [default: <root>/proc/net/route]; the unit points it at /proc/self/net/route, as ProcSubset=pid hides /proc/net",
          })
          .option('node-name', { type: 'string', describe: 'this Node, for virtual device mappings [default: $NODE_NAME, else the host name lowercased]' }),
      async (argv) => {
        const { runDevicePluginCommand } = await import('./deviceplugin/command.js');
        exitCode = await runDevicePluginCommand(
          {
            config: argv.config,
            logLevel: argv['log-level'],
            devicePluginDir: argv['device-plugin-dir'],
            resourceName: argv['resource-name'],
            deviceCount: argv['device-count'],
            socketName: argv['socket-name'],
            maintenanceFile: argv['maintenance-file'],
            root: argv.root,
            devDir: argv['dev-dir'],
            routeFile: argv['route-file'],
            nodeName: argv['node-name'] ?? env['NODE_NAME'],
          },
          rt,
        );
      },
    )
    .command(
      'node-labeller',
      "keep this board's riseproject.dev/* labels true on its own Node",
      (y) =>
        y
          .option('config', configOption)
          .option('log-level', logLevelOption)
          .option('root', rootOption)
          .option('kubeconfig', {
            type: 'string',
            describe: 'kubeconfig [default: $KUBECONFIG, else labeller.kubeconfig in the config, else /etc/kubernetes/kubelet.conf if present, else /etc/riscv-runner-node/kubeconfig]',
          })
          .option('node-name', {
            type: 'string',
            describe: "Node to label [default: $NODE_NAME, else nodeName in the config, else the Node a kubelet's client certificate names, else the host name lowercased]",
          }),
      async (argv) => {
        const { runNodeLabellerCommand } = await import('./labeller/command.js');
        exitCode = await runNodeLabellerCommand(
          {
            config: argv.config,
            logLevel: argv['log-level'],
            root: argv.root,
            kubeconfig: argv.kubeconfig ?? env['KUBECONFIG'],
            nodeName: argv['node-name'] ?? env['NODE_NAME'],
          },
          rt,
        );
      },
    )
    .command(
      'unlabel',
      "remove the node labeller's labels and its record of them from this board's Node (the package's purge runs it)",
      (y) =>
        y
          .option('config', configOption)
          .option('kubeconfig', {
            type: 'string',
            describe: 'kubeconfig [default: the one node-labeller uses]',
          })
          .option('node-name', { type: 'string', describe: 'Node [default: the one node-labeller labels]' })
          .option('timeout', { type: 'number', default: 5, describe: 'give up after this many seconds' }),
      async (argv) => {
        const { runUnlabelCommand } = await import('./labeller/unlabel-command.js');
        exitCode = await runUnlabelCommand(
          { config: argv.config, kubeconfig: argv.kubeconfig ?? env['KUBECONFIG'], nodeName: argv['node-name'] ?? env['NODE_NAME'], timeoutSeconds: argv.timeout },
          rt,
        );
      },
    )
    .command(
      'detect',
      'print the labels the node labeller would apply (no cluster needed)',
      (y) =>
        y
          .option('config', configOption)
          .option('root', rootOption)
          .option('json', { type: 'boolean', default: false, describe: 'print a JSON object of label key to value' }),
      async (argv) => {
        const { runDetectCommand } = await import('./labeller/command.js');
        // From a checkout dist/src/cli.js sits two levels below the sample board roots' test/.
        const sampleRoots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'roots');
        exitCode = await runDetectCommand({ config: argv.config, root: argv.root, json: argv.json, sampleRoots, cwd: process.cwd() }, rt);
      },
    )
    .command(
      'devices',
      'print every resource the device plugin would serve, with sockets and devices (no kubelet needed)',
      (y) =>
        y
          .option('config', configOption)
          .option('root', { ...rootOption, describe: 'filesystem root to read dev/, sys/bus/pci and proc/net/route from (answers keep the real paths)' })
          .option('device-plugin-dir', { type: 'string', default: '/var/lib/kubelet/device-plugins', describe: 'where the sockets would be' })
          .option('node-name', { type: 'string', describe: 'this Node, for virtual device mappings [default: $NODE_NAME, else the host name lowercased]' })
          .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
          .option('allocate', { type: 'string', describe: 'RESOURCE=ID[,ID…]: print, as JSON, the Allocate response a container would get' }),
      async (argv) => {
        const { runDevicesCommand } = await import('./deviceplugin/devices-command.js');
        exitCode = await runDevicesCommand(
          {
            config: argv.config,
            root: argv.root,
            devicePluginDir: argv['device-plugin-dir'],
            nodeName: argv['node-name'] ?? env['NODE_NAME'],
            json: argv.json,
            allocate: argv.allocate,
          },
          rt,
        );
      },
    )
    .command(
      'dra-driver',
      'run the kubelet DRA driver that publishes this board as ResourceSlices and prepares its claims',
      (y) =>
        y
          .option('config', configOption)
          .option('log-level', logLevelOption)
          .option('root', rootOption)
          .option('dev-dir', { type: 'string', describe: 'where to list /dev entries [default: <root>/dev]' })
          .option('device-plugin-dir', { type: 'string', default: '/var/lib/kubelet/device-plugins', describe: "the device plugin's directory, for its socket checks" })
          .option('kubeconfig', { type: 'string', describe: 'kubeconfig [default: the one node-labeller uses]' })
          .option('node-name', { type: 'string', describe: 'this Node [default: $NODE_NAME, the Node of the credentials, else the host name lowercased]' })
          .option('registry-dir', { type: 'string', default: '/var/lib/kubelet/plugins_registry', describe: "the kubelet plugin watcher's directory" })
          .option('plugins-dir', { type: 'string', default: '/var/lib/kubelet/plugins', describe: 'the DRA socket goes in <dir>/<driver>/dra.sock' })
          .option('state-dir', { type: 'string', default: '/var/lib/riscv-runner-node/dra', describe: 'our record of prepared claims' })
          .option('cdi-dir', { type: 'string', default: '/var/run/cdi', describe: 'where CDI specs for device nodes are written' }),
      async (argv) => {
        const { runDraDriverCommand } = await import('./dra/command.js');
        exitCode = await runDraDriverCommand(
          {
            config: argv.config,
            logLevel: argv['log-level'],
            root: argv.root,
            devDir: argv['dev-dir'],
            devicePluginDir: argv['device-plugin-dir'],
            kubeconfig: argv.kubeconfig ?? env['KUBECONFIG'],
            nodeName: argv['node-name'] ?? env['NODE_NAME'],
            registryDir: argv['registry-dir'],
            pluginsDir: argv['plugins-dir'],
            stateDir: argv['state-dir'],
            cdiDir: argv['cdi-dir'],
          },
          rt,
        );
      },
    )
    .command(
      'dra-devices',
      'print the DRA devices and attributes this node would publish (no cluster needed)',
      (y) =>
        y
          .option('config', configOption)
          .option('root', rootOption)
          .option('dev-dir', { type: 'string', describe: 'where to list /dev entries [default: <root>/dev]' })
          .option('device-plugin-dir', { type: 'string', default: '/var/lib/kubelet/device-plugins', describe: "the device plugin's directory, for its socket checks" })
          .option('node-name', { type: 'string', describe: 'this Node, the pool name [default: $NODE_NAME, else the host name lowercased]' })
          .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
      async (argv) => {
        const { runDraDevicesCommand } = await import('./dra/devices-command.js');
        exitCode = await runDraDevicesCommand(
          {
            config: argv.config,
            root: argv.root,
            devDir: argv['dev-dir'],
            devicePluginDir: argv['device-plugin-dir'],
            nodeName: argv['node-name'] ?? env['NODE_NAME'],
            json: argv.json,
          },
          rt,
        );
      },
    )
    .command(
      'check-config [file]',
      'validate a configuration file and print the settings in effect',
      (y) =>
        y
          .positional('file', { type: 'string', describe: `file to check [default: --config, else ${DEFAULT_CONFIG_FILE}]` })
          // The daemons' option too, so RISCV_RUNNER_NODE_CONFIG checks the file they would read.
          .option('config', { ...configOption, describe: 'the file the daemons are given, checked when no file is named' })
          .option('dev-dir', { type: 'string', default: '/dev', describe: 'where to list /dev entries, to check that no device node is offered through both the device plugin and DRA' })
          .option('node-name', { type: 'string', describe: 'this Node, for virtual device mappings [default: $NODE_NAME, else the host name lowercased]' }),
      async (argv) => {
        const { runCheckConfigCommand } = await import('./commands/check-config.js');
        const nodeName = argv['node-name'] ?? env['NODE_NAME'] ?? rt.hostname.toLowerCase();
        exitCode = await runCheckConfigCommand({ file: argv.file ?? argv.config, devDir: argv['dev-dir'], nodeName, hostName: rt.hostname }, rt);
      },
    )
    .command(
      'maintenance <state>',
      'drain this board from new runners (on), return it (off), or show the state (status)',
      (y) =>
        y
          .positional('state', { choices: ['on', 'off', 'status'] as const, demandOption: true })
          .option('config', configOption)
          .option('maintenance-file', { type: 'string', describe: 'flag file [default: from the config]' })
          .option('reason', { type: 'string', describe: 'why, written into the flag file' })
          .option('force', { type: 'boolean', default: false, describe: 'on: replace the reason and time of a board already in maintenance' }),
      async (argv) => {
        const { runMaintenanceCommand } = await import('./deviceplugin/maintenance-command.js');
        exitCode = await runMaintenanceCommand(
          { state: argv.state, config: argv.config, maintenanceFile: argv['maintenance-file'], reason: argv.reason, force: argv.force },
          rt,
        );
      },
    )
    .demandCommand(1, 'name a command: device-plugin, node-labeller, dra-driver, unlabel, detect, devices, dra-devices, check-config or maintenance')
    .recommendCommands()
    .fail((msg, err) => {
      if (err) throw err;
      // Thrown so that no command runs with the flags it could not understand.
      throw new UsageError(msg);
    })
    // Help is not wrapped: yargs' ESM build wraps at a fixed column, cutting words in two
    // (yargs/yargs#2112), and the cliui that wraps between words costs every daemon start
    // about 10 ms, since yargs renders a command's help each time the command starts.
    .wrap(null)
    .help()
    .version()
    .parseAsync();

  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('SIGHUP', onHangup);
  process.exitCode = exitCode;
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`riscv-runner-node: ${err.message}\nRun 'riscv-runner-node --help' for usage.\n`);
    // A bad flag in a unit file is a configuration error: systemd must not restart it in a loop.
    process.exitCode = EXIT_CONFIG;
    return;
  }
  process.stderr.write(`riscv-runner-node: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
