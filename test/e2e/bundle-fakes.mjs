// Bundles the kubelet and API server stand-ins into single files that run inside test roots
// with the root's own nodejs (no node_modules there).
// Usage: node test/e2e/bundle-fakes.mjs <outdir>   → <outdir>/kubelet.mjs, <outdir>/kubelet-dra.mjs, <outdir>/apiserver.mjs, <outdir>/proto/…
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const outdir = path.resolve(process.argv[2] ?? path.join(top, 'build', 'e2e', 'fakes'));
await mkdir(outdir, { recursive: true });
await build({
  absWorkingDir: top,
  entryPoints: { kubelet: 'test/fakes/kubelet-main.ts', 'kubelet-dra': 'test/fakes/kubelet-dra-main.ts', apiserver: 'test/fakes/apiserver-main.ts' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node18',
  outdir,
  outExtension: { '.js': '.mjs' },
  banner: {
    js: "import { createRequire as __e2eCreateRequire } from 'node:module'; const require = __e2eCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// The stand-in kubelets load their APIs from proto/ beside the bundle, as the daemons do.
await cp(path.join(top, 'proto'), path.join(outdir, 'proto'), { recursive: true });
process.stdout.write(`fakes: ${outdir}\n`);
