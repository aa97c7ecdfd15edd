"""Network-namespace lab: hosts on bridges, processes in them, always torn down.

Layout of one Lab (nothing is added to the root namespace):

    namespace  <tag>-br      bridges lan0, lan1, ... (IPv6 off, multicast snooping off)
    namespace  <tag>-<host>  lo + eth0 (on lan0), eth1 (on lan1), ...

<tag> is "pkt-<creator pid>-<creator start time>-<random>": unique per run, and enough for
cleanup_stale() to tell a lab whose creator is gone from one that is in use by another session.
Addresses come from documentation and benchmarking (RFC 2544, 198.18.0.0/15) ranges only: lan k uses LAN_V4[k].0/24 and 2001:db8:k::/64;
host number i (1-based) gets .(10+i) and ::(10+i); link-local fe80:: addresses come from the kernel.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from harness.daemon import VrrpDaemon
from harness.pcap import Frame, read_pcap
from harness.wait import wait_until

PREFIX = "pkt-"
NETNS_DIR = Path("/run/netns")
LAN_V4 = ("192.0.2", "198.51.100", "203.0.113", "198.18.0")  # the TEST-NETs, then RFC 2544's range
# VRRP over IPv4 and IPv6 (tcpdump's "vrrp" alone is IPv4 only), ARP, and ICMPv6 (NA, ND)
DEFAULT_BPF = "ip proto 112 or ip6 proto 112 or arp or icmp6"
_TAG_RE = re.compile(r"^pkt-(\d+)-(\d+)-[0-9a-f]{4}-")


class HarnessError(RuntimeError):
    pass


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 30,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise HarnessError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
    return r


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_root() -> bool:
    return os.geteuid() == 0


def missing_tools(*tools: str) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


# ---------------------------------------------------------------------------------------------
# processes


class Proc:
    """A long-running process in a namespace; stdout and stderr go to files in the lab's workdir."""

    def __init__(self, argv: Sequence[str], ns: str, out: Path, err: Path,
                 env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.ns, self.out, self.err = ns, out, err
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.popen = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=fo, stderr=fe,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, **(env or {})})
        self.pid = self.popen.pid  # `ip netns exec` execs the command: same pid, own process group

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_output(self, pattern: str, timeout: float = 10, *, stream: str = "both") -> re.Match[str]:
        """Wait until `pattern` (a regex) appears in the process's output; fail early if it exits."""
        rx = re.compile(pattern, re.M)

        def probe() -> re.Match[str] | None:
            text = (self.stdout() if stream != "stderr" else "") + (self.stderr() if stream != "stdout" else "")
            m = rx.search(text)
            if m is None and not self.alive:
                raise HarnessError(f"{self.argv[0]} exited {self.returncode} before printing {pattern!r}:\n{text}")
            return m

        return wait_until(probe, timeout, message=f"{self.argv[0]} in {self.ns} never printed {pattern!r}")

    def send_signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash: nothing gets to clean up)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(5)

    def stop(self, timeout: float = 5, sig: int = signal.SIGTERM) -> int | None:
        """Ask the process to exit with `sig`; SIGKILL its process group if it has not after `timeout`."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # children (keepalived's VRRP/checker processes) share the group; make sure none linger
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        return self.popen.returncode


class Capture:
    """tcpdump writing a pcap (nanosecond kernel timestamps) in a namespace."""

    def __init__(self, proc: Proc, path: Path) -> None:
        self.proc, self.path = proc, path

    def stop(self) -> list[Frame]:
        if self.proc.alive:
            self.proc.stop(timeout=5, sig=signal.SIGINT)
        return self.frames()

    def frames(self) -> list[Frame]:
        """What has been written so far (tcpdump runs with -U: each packet is flushed at once)."""
        return read_pcap(self.path) if self.path.exists() else []

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _start_capture(lab: Lab, ns: str, iface: str, name: str, bpf: str) -> Capture:
    if missing_tools("tcpdump"):
        raise HarnessError("tcpdump is not installed")
    path = lab.workdir / f"{name}.pcap"
    argv = ["tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "--time-stamp-precision=nano",
            "-s", "0", "-w", str(path)]
    if bpf:
        argv.append(bpf)
    proc = lab._spawn(ns, argv, f"{name}-tcpdump")
    proc.wait_output(r"listening on", timeout=10, stream="stderr")
    return Capture(proc, path)


# ---------------------------------------------------------------------------------------------
# hosts


class Host:
    """One namespace with one interface per LAN (eth0 on the first)."""

    def __init__(self, lab: Lab, name: str, index: int, ns: str) -> None:
        self.lab, self.name, self.index, self.ns = lab, name, index, ns
        self.lans: list[str] = []

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ns={self.ns!r})"

    # addressing ------------------------------------------------------------------------------
    def addr4(self, lan: int = 0) -> str:
        return f"{LAN_V4[lan]}.{10 + self.index}"

    def addr6(self, lan: int = 0) -> str:
        return f"2001:db8:{lan}::{10 + self.index}"

    @property
    def ip(self) -> str:
        """IPv4 address on eth0."""
        return self.addr4(0)

    @property
    def ip6(self) -> str:
        """Global IPv6 address on eth0."""
        return self.addr6(0)

    def mac(self, ifname: str = "eth0") -> str:
        return str(self.link(ifname)["address"])

    def link(self, ifname: str = "eth0") -> dict[str, Any]:
        return dict(json.loads(self.run(["ip", "-j", "link", "show", "dev", ifname]).stdout)[0])

    def link_local(self, ifname: str = "eth0") -> str:
        for a in self.addresses(ifname, family=6):
            if a.startswith("fe80:"):
                return a
        raise HarnessError(f"{self.name}/{ifname} has no link-local address")

    def addresses(self, ifname: str = "eth0", family: int | None = None) -> list[str]:
        """Addresses on an interface, without prefix length."""
        argv = ["ip", "-j"] + ([f"-{family}"] if family else []) + ["addr", "show", "dev", ifname]
        info = json.loads(self.run(argv).stdout)
        return [a["local"] for entry in info for a in entry.get("addr_info", [])]

    def has_address(self, addr: str, ifname: str = "eth0") -> bool:
        return addr in self.addresses(ifname)

    def neigh(self, addr: str, ifname: str = "eth0") -> str | None:
        """The link-layer address this host has for `addr` (ARP/ND cache), or None."""
        info = json.loads(self.run(["ip", "-j", "neigh", "show", addr, "dev", ifname]).stdout)
        for e in info:
            if "lladdr" in e and "FAILED" not in e.get("state", []) and "INCOMPLETE" not in e.get("state", []):
                return str(e["lladdr"])
        return None

    def set_link(self, up: bool, ifname: str = "eth0") -> None:
        self.ip_cmd("link", "set", "dev", ifname, "up" if up else "down")

    # commands --------------------------------------------------------------------------------
    def ip_cmd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(["ip", "-n", self.ns, *args])

    def run(self, cmd: Sequence[str] | str, *, check: bool = True, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command to completion in this host (a string goes through sh -c)."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return _run(["ip", "netns", "exec", self.ns, *argv], check=check, timeout=timeout, input=input)

    def ping(self, addr: str, *, count: int = 1, timeout: float = 2) -> bool:
        r = self.run(["ping", "-n", "-q", "-c", str(count), "-W", str(int(max(1, timeout))), addr],
                     check=False, timeout=timeout * count + 5)
        return r.returncode == 0

    def spawn(self, argv: Sequence[str], name: str | None = None, env: dict[str, str] | None = None) -> Proc:
        """Start a long-running process here; the lab stops it (whole process group) on close."""
        return self.lab._spawn(self.ns, argv, f"{self.name}-{name or Path(argv[0]).name}", env)

    def capture(self, iface: str = "eth0", bpf: str = DEFAULT_BPF, name: str | None = None) -> Capture:
        """Start tcpdump on one of this host's interfaces; returns once tcpdump is listening."""
        return _start_capture(self.lab, self.ns, iface, self.lab._unique(name or f"{self.name}-{iface}"), bpf)

    def keepalived(self, config: str, *, implementation: str = "keepalived", name: str | None = None,
                   extra_args: Sequence[str] = ()) -> VrrpDaemon:
        """Start keepalived (or pykeepalived) here on `config` text; see harness.daemon.VrrpDaemon."""
        d = VrrpDaemon(self, config, implementation=implementation, name=name, extra_args=extra_args)
        d.start()
        return d

    # nftables (inside this host only) -----------------------------------------------------------
    def drop(self, match: str = "", *, hook: str = "input", percent: int | None = None) -> None:
        """Drop packets matching an nft expression (e.g. "ip protocol vrrp") at `hook`.

        hook: "input" / "output" (table inet, IP traffic) or "arp-input" / "arp-output" (table arp).
        percent: drop only this share of matching packets, at random (numgen random), for loss.
        Note tcpdump on this host still sees dropped incoming packets: capture taps run before netfilter.
        """
        family, chain = ("arp", hook[4:]) if hook.startswith("arp-") else ("inet", hook)
        if chain not in ("input", "output"):
            raise HarnessError(f"unknown hook {hook!r}")
        table = f"{family} harness"
        self.nft(f"add table {table}\n"
                 f"add chain {table} {chain} {{ type filter hook {chain} priority -200; policy accept; }}")
        loss = f"numgen random mod 100 < {percent} " if percent is not None else ""
        self.nft(f"add rule {table} {chain} {match} {loss}counter drop")

    def undrop(self) -> None:
        """Remove every rule drop() added."""
        for family in ("inet", "arp"):
            self.run(["nft", "delete", "table", family, "harness"], check=False)

    def nft(self, script: str) -> None:
        self.run(["nft", "-f", "-"], input=script + "\n")


# ---------------------------------------------------------------------------------------------
# the lab


_live_labs: set[Lab] = set()
_live_namespaces: set[str] = set()      # private_netns() ones
_handlers_installed = False


def _close_all() -> None:
    for lab in list(_live_labs):
        with contextlib.suppress(Exception):
            lab.close()
    for ns in list(_live_namespaces):
        with contextlib.suppress(Exception):
            _remove_namespace(ns)


def _new_tag() -> str:
    """pkt-<pid>-<start time>-<random>-: cleanup_stale() can tell when its creator is gone."""
    pid = os.getpid()
    return f"{PREFIX}{pid}-{_start_time(pid)}-{secrets.token_hex(2)}-"


@contextlib.contextmanager
def private_netns(name: str) -> Iterator[str]:
    """One bare namespace (lo up) for a test that needs no LAN, named with the harness tag.

    Removed on exit (also when the test fails), on SIGTERM/SIGINT and at interpreter exit; if its
    creator was SIGKILLed, the next session's cleanup_stale() removes it."""
    _install_handlers()
    ns = _new_tag() + name
    _run(["ip", "netns", "add", ns])
    _live_namespaces.add(ns)
    try:
        _run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        yield ns
    finally:
        _live_namespaces.discard(ns)
        _remove_namespace(ns)


def _install_handlers() -> None:
    """atexit + SIGTERM/SIGINT: remove our namespaces, then do what the signal would have done."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None,
                    previous: Callable[[int, FrameType | None], Any] | int | None = previous) -> None:
            _close_all()
            if callable(previous):
                previous(signum, frame)
            elif signum == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + signum)

        signal.signal(sig, handler)


class Lab:
    """Hosts in network namespaces on bridges; `with Lab() as lab:` or close() when done."""

    def __init__(self, workdir: str | Path | None = None) -> None:
        if not is_root():
            raise HarnessError("network namespaces need root")
        if missing_tools("ip"):
            raise HarnessError("iproute2 (ip) is not installed")
        self.tag = _new_tag()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=self.tag))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, Host] = {}
        self.lans: list[str] = []
        self.procs: list[Proc] = []
        self._names: set[str] = set()
        self._namespaces: list[str] = []
        self.closed = False
        _install_handlers()
        _live_labs.add(self)
        try:
            self.bridge_ns = self._add_ns("br", sysctls={"net.ipv6.conf.all.disable_ipv6": "1",
                                                         "net.ipv6.conf.default.disable_ipv6": "1"})
            self.add_lan()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unique(self, name: str) -> str:
        n, i = name, 1
        while n in self._names:
            i += 1
            n = f"{name}-{i}"
        self._names.add(n)
        return n

    def _add_ns(self, name: str, sysctls: dict[str, str]) -> str:
        ns = self.tag + name
        _run(["ip", "netns", "add", ns])
        self._namespaces.append(ns)
        script = "; ".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in sysctls.items())
        _run(["ip", "netns", "exec", ns, "sh", "-c", f"ip link set lo up; {script}"])
        return ns

    def _spawn(self, ns: str, argv: Sequence[str], name: str, env: dict[str, str] | None = None) -> Proc:
        name = self._unique(name)
        p = Proc(argv, ns, self.workdir / f"{name}.out", self.workdir / f"{name}.err", env)
        self.procs.append(p)
        return p

    def add_lan(self) -> int:
        """Add one more bridge; returns its LAN index (hosts added later get an interface on it)."""
        idx = len(self.lans)
        if idx >= len(LAN_V4):
            raise HarnessError(f"at most {len(LAN_V4)} LANs")
        br = f"lan{idx}"
        _run(["ip", "-n", self.bridge_ns, "link", "add", br, "type", "bridge", "mcast_snooping", "0"])
        _run(["ip", "-n", self.bridge_ns, "link", "set", br, "up"])
        self.lans.append(br)
        return idx

    def add_host(self, name: str, lans: Sequence[int] = (0,)) -> Host:
        """A namespace named <tag><name> with eth<k> on each LAN in `lans` (addresses: see module doc)."""
        if name in self.hosts or not re.fullmatch(r"[a-z][a-z0-9]{0,9}", name):
            raise HarnessError(f"host name {name!r} taken or not [a-z][a-z0-9]{{0,9}}")
        index = len(self.hosts) + 1
        ns = self._add_ns(name, sysctls={"net.ipv6.conf.all.accept_dad": "0",
                                         "net.ipv6.conf.default.accept_dad": "0"})
        host = Host(self, name, index, ns)
        self.hosts[name] = host
        for k, lan in enumerate(lans):
            port = f"p{index}l{lan}"  # bridge-side veth, private to the bridge namespace
            eth = f"eth{k}"
            _run(["ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", eth,
                  "netns", ns])
            _run(["ip", "-n", self.bridge_ns, "link", "set", port, "master", self.lans[lan], "up"])
            host.ip_cmd("link", "set", eth, "address", f"02:00:00:00:{lan:02x}:{index:02x}", "up")
            host.ip_cmd("addr", "add", f"{host.addr4(lan)}/24", "dev", eth)
            host.ip_cmd("addr", "add", f"{host.addr6(lan)}/64", "dev", eth, "nodad")
            host.lans.append(self.lans[lan])
        return host

    def add_hosts(self, *names: str) -> list[Host]:
        return [self.add_host(n) for n in names]

    def capture(self, lan: int = 0, bpf: str = DEFAULT_BPF, name: str | None = None) -> Capture:
        """tcpdump on a bridge: sees every host's frames on that LAN with one clock."""
        return _start_capture(self, self.bridge_ns, self.lans[lan], self._unique(name or f"lan{lan}"), bpf)

    def namespaces(self) -> list[str]:
        return list(self._namespaces)

    def close(self) -> None:
        """Stop every process, then delete every namespace. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            for p in reversed(self.procs):
                with contextlib.suppress(Exception):
                    p.stop(timeout=3)
            for ns in reversed(self._namespaces):
                _remove_namespace(ns)
        finally:
            _live_labs.discard(self)
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)


def _remove_namespace(ns: str) -> None:
    """Kill whatever still runs in `ns` (escaped daemons), then delete it."""
    r = _run(["ip", "netns", "pids", ns], check=False)
    for pid in r.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    for _ in range(50):
        if _run(["ip", "netns", "del", ns], check=False).returncode == 0 or not (NETNS_DIR / ns).exists():
            return
        time.sleep(0.1)
    raise HarnessError(f"could not delete namespace {ns}")


def our_namespaces() -> list[str]:
    """Every namespace on this machine that carries the harness prefix."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(PREFIX))
    except FileNotFoundError:
        return []


def cleanup_stale() -> list[str]:
    """Delete harness namespaces whose creating process is gone (dead pid, or pid reused).

    Labs of other live processes (another pytest session, the demo) are left alone, and so is
    every namespace without our prefix. Returns the names removed.
    """
    removed = []
    for ns in our_namespaces():
        m = _TAG_RE.match(ns)
        if m is None:
            continue
        pid, started = int(m.group(1)), m.group(2)
        if str(_start_time(pid)) == started:
            continue  # its creator still runs
        _remove_namespace(ns)
        removed.append(ns)
    return removed

