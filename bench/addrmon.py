"""Address events of the namespace it runs in, one line each, for bench/scale.py:

    <CLOCK_REALTIME ns> NEW|DEL <address> <ifindex>

An rtnetlink listener (RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR). Netlink messages carry no
kernel timestamp, so the time is taken right after recv() returns: it is when this process
saw the address, an upper bound of when the kernel added it (scale.py starts it with
SCHED_FIFO where allowed, so that waking it costs tens of microseconds, not a time slice).
"""

from __future__ import annotations

import socket
import struct
import sys
import time

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL = 1, 2


def main() -> int:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    out = sys.stdout
    out.write("listening\n")
    out.flush()
    clock, realtime = time.clock_gettime_ns, time.CLOCK_REALTIME
    while True:
        data = sock.recv(65536)
        now = clock(realtime)
        lines = []
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, off)
            if length < 16:
                break
            if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
                family, _plen, _flags, _scope, index = struct.unpack_from("=BBBBI", data, off + 16)
                attrs: dict[int, bytes] = {}
                a = off + 24
                while a + 4 <= off + length:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    attrs[atype] = data[a + 4:a + alen]
                    a += (alen + 3) & ~3
                raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
                if raw is not None:
                    addr = socket.inet_ntop(socket.AF_INET if family == socket.AF_INET else socket.AF_INET6, raw)
                    lines.append(f"{now} {'NEW' if kind == RTM_NEWADDR else 'DEL'} {addr} {index}\n")
            off += (length + 3) & ~3
        if lines:
            out.write("".join(lines))
            out.flush()


if __name__ == "__main__":
    raise SystemExit(main())
