"""The one home of the libc glue the daemon needs through ctypes: setns, prctl, malloc_trim,
inotify, the proc connector socket (opened by the supervisor before setns, used by the VRRP
child's vrrp_track_process), the capability check at start; and of the real-time signal numbers
keepalived uses. Imports nothing of ours, so every layer may use it.

Python 3.11 has none of these in `os` (os.setns arrives in 3.12); each wrapper is a few lines
around the libc call with errno turned into OSError where the caller wants one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct

# keepalived's real-time signals, as glibc numbers them (SIGRTMIN is 34 there, not the kernel's 32):
# --signum JSON / STATS_CLEAR prints these, the parent relays them, the VRRP child dumps on them.
SIGJSON = signal.SIGRTMIN + 2
SIGSTATS_CLEAR = signal.SIGRTMAX - 1

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_INOTIFY_EVENT = struct.Struct("iIII")     # wd, mask, cookie, len; then len bytes of name

# The process's own symbols, libc among them: ctypes.util.find_library would run `ldconfig -p`
# (a fork and exec) while the daemon starts.
libc = ctypes.CDLL(None, use_errno=True)
_prctl = libc.prctl


def _raise_errno(what: str = "") -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}{os.strerror(err)}")


# -- namespaces ------------------------------------------------------------------------------


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """setns(2) for the calling thread; OSError(errno, strerror) on failure."""
    if libc.setns(fd, nstype) != 0:
        _raise_errno()


def netns_path(name: str) -> str:
    """A namespace name (/run/netns/NAME, what `ip netns add` makes) or a path as given."""
    return name if name.startswith("/") else f"/run/netns/{name}"


def enter_netns(name: str) -> None:
    """Move the calling thread into the named network namespace (what `ip netns exec` does)."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, CLONE_NEWNET)
    finally:
        os.close(fd)


# -- prctl, malloc ----------------------------------------------------------------------------


def set_parent_death_signal(sig: int) -> None:
    """PR_SET_PDEATHSIG: `sig` when the parent thread dies. Safe in a preexec_fn (no allocation
    beyond the ctypes call, no exception: a failure is ignored, as everywhere we used it)."""
    _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def set_process_name(name: str) -> None:
    """The name `ps` shows (setproctitle); nothing happens where it is not installed."""
    with contextlib.suppress(Exception):
        import setproctitle

        setproctitle.setproctitle(name)


def return_free_memory() -> None:
    """Hand freed heap pages back to the kernel: glibc keeps them after a big parse otherwise
    (6-7 MiB after reading 1000 instances)."""
    with contextlib.suppress(OSError, AttributeError):
        libc.malloc_trim(0)


# -- capabilities -----------------------------------------------------------------------------

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
# What the daemon cannot run without: raw sockets for VRRP adverts, GARP and NA (NET_RAW);
# addresses, routes, rules, IPVS and nftables over netlink (NET_ADMIN).
REQUIRED_CAPABILITIES = {"CAP_NET_ADMIN": CAP_NET_ADMIN, "CAP_NET_RAW": CAP_NET_RAW}


def effective_capabilities(status_path: str = "/proc/self/status") -> int | None:
    """The CapEff bit mask of this process; None when /proc does not say."""
    try:
        with open(status_path, encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return None
    return None


def missing_capabilities(status_path: str = "/proc/self/status") -> list[str]:
    """Names of the REQUIRED_CAPABILITIES this process lacks ([] also when /proc cannot tell)."""
    eff = effective_capabilities(status_path)
    if eff is None:
        return []
    return [name for name, bit in REQUIRED_CAPABILITIES.items() if not eff >> bit & 1]


# -- inotify ----------------------------------------------------------------------------------


def inotify_init() -> int:
    """A non-blocking, close-on-exec inotify descriptor; OSError on failure."""
    fd: int = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        _raise_errno()
    return fd


def inotify_add_watch(fd: int, path: str, mask: int) -> int:
    """Watch `path` (a directory here) for `mask`; the watch descriptor, OSError on failure."""
    wd: int = libc.inotify_add_watch(fd, os.fsencode(path), mask)
    if wd < 0:
        _raise_errno()
    return wd


def inotify_read(fd: int) -> list[tuple[int, int, str]]:
    """The pending events as (wd, mask, name); empty when there are none."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return []
    out: list[tuple[int, int, str]] = []
    size = _INOTIFY_EVENT.size
    offset = 0
    while offset + size <= len(data):
        wd, mask, _cookie, length = _INOTIFY_EVENT.unpack_from(data, offset)
        name = data[offset + size:offset + size + length].rstrip(b"\0").decode(errors="replace")
        out.append((wd, mask, name))
        offset += size + length
    return out


# --------------------------------------------------------------------------------------------
# The proc connector (vrrp_track_process: fork/exec/exit events from the kernel)

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1


def open_proc_connector() -> socket.socket | None:
    """A netlink proc-connector socket bound to the process-event group, or None where the kernel
    refuses it (the connector exists only in the initial network namespace: keepalived opens
    it before entering `net_namespace`, and a daemon started inside a namespace polls /proc).
    Events flow once `proc_listen(sock, True)` has been sent."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR)
    except OSError:
        return None
    try:
        sock.bind((0, CN_IDX_PROC))
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock


# The process-wide connector socket: opened by the supervisor before setns() (inherited by the
# forked VRRP process) or on first use, and kept across reloads (inside a namespace it could
# not be opened again).
_connector: socket.socket | None = None
_connector_tried = False


def preopen_proc_connector() -> None:
    """Call before entering `net_namespace` (setns), as keepalived does: the connector exists
    only in the initial network namespace; the VRRP process's trackers then use this socket."""
    global _connector, _connector_tried
    if not _connector_tried:
        _connector, _connector_tried = open_proc_connector(), True


def proc_connector() -> socket.socket | None:
    preopen_proc_connector()
    return _connector


def release_proc_connector() -> None:
    global _connector
    if _connector is not None:
        _connector.close()
        _connector = None
