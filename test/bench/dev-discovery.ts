// /dev discovery benchmark: walking a 2000-entry tree shaped like a board's /dev and turning it into resources.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DevConfig } from '../../src/common/config.js';
import { devResources } from '../../src/deviceplugin/sources/dev.js';
import { scanDev } from '../../src/deviceplugin/sources/dev-scan.js';
import { buildDevTree, RASPBERRY_PI_DEV } from '../helpers/dev-tree.js';
import { emitFor, percentile } from './common.js';

const emit = emitFor('dev-discovery');

/**
 * What a busy board's /dev holds: ttys and ptys, disks with by-id/by-path/by-uuid links, char/
 * and block/ links to every node, input and sound directories, USB bus nodes; 2000 entries.
 */
function boardDev(): string[] {
  const spec = [...RASPBERRY_PI_DEV];
  for (let i = 0; i < 64; i++) spec.push(`c tty${i}`);
  for (let i = 0; i < 8; i++) spec.push(`c ttyUSB${i}`, `l serial/by-id/usb-FTDI_FT232R_USB_UART_A${i}-if00-port0 -> ../../ttyUSB${i}`);
  for (let i = 0; i < 200; i++) spec.push(`c pts/${i}`);
  for (let d = 0; d < 16; d++) {
    spec.push(`b sd${String.fromCharCode(97 + d)}`);
    for (let p = 1; p <= 4; p++) {
      const part = `sd${String.fromCharCode(97 + d)}${p}`;
      spec.push(`b ${part}`, `l disk/by-uuid/${d}-${p}-0000 -> ../../${part}`, `l disk/by-path/platform-ahci-ata-${d}-part${p} -> ../../${part}`);
    }
  }
  for (let i = 0; i < 24; i++) spec.push(`c input/event${i}`, `l input/by-path/platform-gpio-keys-event${i} -> ../event${i}`);
  for (let b = 1; b <= 4; b++) for (let n = 1; n <= 30; n++) spec.push(`c bus/usb/00${b}/${String(n).padStart(3, '0')}`);
  for (let i = 0; spec.length < 2000 - 40; i++) spec.push(`l char/${i % 255}:${i} -> ../tty${i % 64}`);
  for (let i = 0; spec.length < 2000 - 20; i++) spec.push(`c misc${i}`);
  // The remaining entries are the directories the lines above create.
  return spec;
}

const CONFIG: DevConfig = {
  prefix: 'smarter-devices',
  file: undefined,
  devices: [
    { devicematch: '^ttyUSB[0-9]+$', nummaxdevices: 1 },
    { devicematch: '^snd$', nummaxdevices: 10 },
    { devicematch: '^gpiochip[0-9]*$', nummaxdevices: 10 },
    { devicematch: '^video[0-9]+$', nummaxdevices: 10 },
    { devicematch: '^net/tun$', nummaxdevices: 10 },
    { devicematch: '^input$', nummaxdevices: 1 },
    { devicematch: 'i2c', nummaxdevices: 1 },
  ],
};

export async function benchDevDiscovery(): Promise<void> {
  const dev = await mkdtemp(path.join(tmpdir(), 'rrn-bench-dev-'));
  try {
    const making = await buildDevTree(dev, boardDev());
    const entries = await scanDev(dev);
    const runs = 200;
    const scan: number[] = [];
    const total: number[] = [];
    let resources = 0;
    let previous = devResources(CONFIG, entries, []).resources;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const found = await scanDev(dev);
      const t1 = performance.now();
      previous = devResources(CONFIG, found, previous).resources;
      total.push(performance.now() - t0);
      scan.push(t1 - t0);
      resources = previous.length;
    }
    emit('dev_discovery_ms', { p50: percentile(total, 50), p99: percentile(total, 99), scan_p50: percentile(scan, 50) }, 'ms', {
      entries: entries.length,
      resources,
      runs,
      nodes: making,
      target: 'p99 <= 50',
    });
  } finally {
    await rm(dev, { recursive: true, force: true });
  }
}
