#!/bin/sh
# riscv-runner-node: runs the packaged bundle with the distribution's Node.js.
# --lite-mode trades V8's optimising compiler for memory: the daemons do little work but run on
# every board for weeks, and it keeps the device plugin's RSS about 8 MB lower at the same start time.
exec /usr/bin/node --lite-mode /usr/lib/riscv-runner-node/cli.js "$@"
