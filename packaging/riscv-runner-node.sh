#!/bin/sh
# riscv-runner-node: runs the packaged bundle with the distribution's Node.js.
# --lite-mode trades V8's optimising compiler for memory: the daemons do little work but run on
# every board for weeks, and it keeps the device plugin's RSS about 8 MB lower at the same start
# time. It also keeps the young generation at 1 MB semi-spaces: without it, a burst of kubelet
# restarts grows them to 16 MB each, and the plugin's RSS settles some 40 MB higher.
# On Node 18 it also turns WebAssembly off, with a warning at every start unless --no-expose-wasm
# says so first (nothing here needs WebAssembly: `long` falls back to plain JS).
exec /usr/bin/node --no-expose-wasm --lite-mode /usr/lib/riscv-runner-node/cli.js "$@"
