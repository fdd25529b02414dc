// `npm run bench`: runs every benchmark module in turn; each prints one JSON line per figure.
import { benchDevDiscovery } from './dev-discovery.js';
import { benchDevicePlugin } from './deviceplugin.js';
import { benchDra } from './dra.js';
import { benchLabeller } from './labeller.js';
import { benchMetrics } from './metrics.js';
import { benchPci } from './pci.js';
import { benchResources } from './resources.js';

await benchDevicePlugin();
await benchResources();
await benchDevDiscovery();
await benchPci();
await benchLabeller();
await benchDra();
await benchMetrics();
