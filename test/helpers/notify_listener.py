#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify(3)).

Binds a unix datagram socket, prints one JSON line per message received, and honours the
barrier protocol (sd_notify_barrier(3)): a message may carry file descriptors, and the sender
waits until the manager has closed them, so every received descriptor is closed at once.
"""
import array
import json
import os
import socket
import sys

path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(path)
print(json.dumps({"listening": path}), flush=True)

fd_size = array.array("i").itemsize
while True:
    data, ancdata, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(16 * fd_size) + socket.CMSG_SPACE(12))
    fds = []
    pid = None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - (len(payload) % fd_size)]))
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(payload[0:4], sys.byteorder)
    for fd in fds:
        os.close(fd)
    print(json.dumps({"message": data.decode("utf-8", "replace"), "pid": pid, "fds": len(fds)}), flush=True)
