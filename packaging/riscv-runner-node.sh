#!/bin/sh
# riscv-runner-node: runs the packaged bundle with the distribution's Node.js.
exec /usr/bin/node /usr/lib/riscv-runner-node/cli.js "$@"
