// `npm run bench`: runs every benchmark module in turn; each prints one JSON line per figure.
import { benchLabeller } from './labeller.js';

await benchLabeller();
