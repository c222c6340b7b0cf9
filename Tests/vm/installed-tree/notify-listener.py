#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""notify-listener: systemd's side of sd_notify, for Tests/vm/installed-tree-tests.sh.

    notify-listener.py SOCKET NODE OUT [TIMEOUT]

Binds a unix datagram socket at SOCKET ('@name' = abstract namespace) with
SO_PASSCRED, as systemd's notify socket does, then writes one line to OUT
per datagram received:

    pid=<sender pid> node=<1 if NODE existed on arrival, else 0> msg=<text>

with the message's newlines shown as '|'. OUT is created (empty) once the
socket is bound. Exits 0 after a datagram containing STOPPING=1, 1 after
TIMEOUT seconds (default 60) without one.
"""
import os
import socket
import struct
import sys
import time


def main():
    path, node, out = sys.argv[1:4]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind("\0" + path[1:] if path.startswith("@") else path)
    deadline = time.monotonic() + timeout
    with open(out, "w", buffering=1) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 1
            sock.settimeout(left)
            try:
                data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                return 1
            exists = os.path.exists(node)  # first thing after arrival
            pid = "?"
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = str(struct.unpack("iII", payload[:12])[0])
            text = data.decode("utf-8", "replace")
            f.write("pid=%s node=%d msg=%s\n" % (pid, exists, text.replace("\n", "|")))
            if "STOPPING=1" in text.split("\n"):
                return 0


if __name__ == "__main__":
    sys.exit(main())
