"""Play a history in a namespace lab and check the invariants after each event's quiet period.

Layout: nodes r1..r3 (192.0.2.11-13, so a higher index is a higher primary address) and a client
c on one bridge; a tcpdump on the bridge (promiscuous, so it sees unicast adverts too).  Each node
has an interface trk0 (one end of a veth pair) (its tracked interface), a script flag file, a tracked file and a notify
FIFO read by a thread of this process (opened read-write, so it survives daemon restarts).

After an event the runner waits the model's settle time, then polls until one window of the wire
(a master-down interval and an advert) passes, or a deadline; the window passes when, in each
group of nodes that hear each other, exactly one node advertises, it is one the model accepts, its
adverts carry its modelled effective priority and the configured VIPs, and nobody sends priority 0.
Then the VIPs (on the master only), each daemon's last logged state, each FIFO's last state and
the client (a ping to the VIP, its neighbour entry on the master's MAC) are checked.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.daemon import VrrpDaemon
from harness.lab import Capture, HarnessError, Host, Lab
from harness.pcap import ETH_P_ARP, PcapError, Vrrp, _to_ethernet, parse_ethernet
from histories.model import NODE_NAMES, VIP_SETS, VRID, Event, History, Model

# "(VI_1) Entering MASTER STATE", and at start-up "(VI_1): entering FAULT state due to script chk"
STATE_RE = re.compile(r"\(VI_1\):? [Ee]ntering (MASTER|BACKUP|FAULT) (?:STATE|state)")
PRIO_RE = re.compile(r"\(VI_1\) Changing effective priority from \d+ to (\d+)")
RELOAD_RE = re.compile(r": Reload (?:complete|finished)$", re.M)
# How long a daemon may take to show it took an event in (see Runner.acknowledged): a script runs
# every second and forks; a daemon start is an exec, pykeepalived's imports and a fork, all slow on
# a loaded machine.  Past this the quiet period runs anyway (the check then judges what it sees).
ACK_TIMEOUT = {"start": 12.0, "kill_child": 8.0, "script": 5.0, "reload_prio": 5.0, "reload_vips": 5.0}
ACK_TIMEOUT_DEFAULT = 3.0
FIFO_RE = re.compile(r'^INSTANCE "VI_1" (MASTER|BACKUP|FAULT|STOP)\b')
ALL_VIPS = sorted({v.split("/")[0] for s in VIP_SETS for v in s})


class InvariantError(AssertionError):
    """An invariant does not hold (a protocol failure, as opposed to a harness error)."""


@dataclass
class Failure:
    event_index: int          # -1: the cold start
    event: str
    message: str


@dataclass
class Result:
    history: History
    events_applied: int = 0
    failure: Failure | None = None
    timeline: list[str] = field(default_factory=list)
    workdir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


# ---------------------------------------------------------------------------------------------
# wire


class PcapTail:
    """Reads the frames tcpdump appended to a pcap since the last call (VRRP adverts of VRID)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.off = 0
        self.endian = "<"
        self.frac = 1
        self.linktype = 1
        self.adverts: list[tuple[int, str, Vrrp]] = []   # (ts_ns, source address, advert)
        # unicast adverts to an address whose link just came up, up to a time (ns): the kernel
        # held them in the neighbour queue while the link was down and releases them once ARP
        # resolves, so they hit the wire after they were sent (seed 100098: a backup's advert
        # from its 3 s of mastership reached r2 when r2's link came back, and looked like a flap)
        self.held: dict[str, tuple[int, int]] = {}   # address -> (from, until), ns
        self.arps: list[tuple[int, str, str]] = []        # (ts_ns, sender address, sender MAC)

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                if self.off == 0:
                    head = f.read(24)
                    if len(head) < 24:
                        return
                    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
                             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
                    self.endian, self.frac = table[head[:4]]
                    self.linktype = struct.unpack_from(self.endian + "I", head, 20)[0] & 0x0FFFFFFF
                    self.off = 24
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        pos = 0
        while pos + 16 <= len(data):
            sec, frac, caplen, _ = struct.unpack_from(self.endian + "IIII", data, pos)
            if pos + 16 + caplen > len(data):
                break
            raw = data[pos + 16:pos + 16 + caplen]
            pos += 16 + caplen
            try:
                fr = parse_ethernet(_to_ethernet(self.linktype, raw), sec * 1_000_000_000 + frac * self.frac)
                v = fr.vrrp
            except PcapError:
                continue
            if v is not None and v.vrid == VRID and fr.src is not None:
                span = self.held.get(fr.dst or "")
                if span is not None and span[0] <= fr.ts_ns <= span[1]:
                    continue
                self.adverts.append((fr.ts_ns, fr.src, v))
            elif fr.ethertype == ETH_P_ARP:
                with contextlib.suppress(PcapError):
                    a = fr.arp
                    if a is not None:
                        self.arps.append((fr.ts_ns, a.sender_ip, a.sender_mac))
        self.off += pos

    def last_announcer(self, ip: str) -> str | None:
        """The MAC of the last ARP (gratuitous or a reply) that announced `ip`."""
        self.poll()
        return next((mac for _, sip, mac in reversed(self.arps) if sip == ip), None)

    def between(self, t0: int, t1: int) -> list[tuple[int, str, Vrrp]]:
        self.poll()
        return [a for a in self.adverts if t0 <= a[0] <= t1]


def _collapse(states: list[str]) -> list[str]:
    return [s for k, s in enumerate(states) if k == 0 or states[k - 1] != s]


class FifoReader:
    """Collects a node's notify FIFO lines (the FIFO stays open across daemon restarts)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.lines: list[str] = []
        self._buf = b""
        self._stop = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self._lock:
            while True:
                try:
                    chunk = os.read(self.fd, 65536)
                except BlockingIOError:
                    return
                if not chunk:
                    return
                self._buf += chunk
                *lines, self._buf = self._buf.split(b"\n")
                self.lines.extend(x.decode(errors="replace") for x in lines)

    def _loop(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                self._read()

    def sync(self) -> int:
        """Read what is in the FIFO now; the number of lines so far (a mark for states())."""
        self._read()
        return len(self.lines)

    def states(self, start: int = 0) -> list[str]:
        """MASTER/BACKUP/FAULT of the FIFO lines from line `start` on (STOP left out)."""
        out = []
        for line in self.lines[start:]:
            m = FIFO_RE.match(line)
            if m and m.group(1) != "STOP":
                out.append(m.group(1))
        return out

    def last_state(self) -> str | None:
        for line in reversed(self.lines):
            m = FIFO_RE.match(line)
            if m:
                return m.group(1)
        return None

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        os.close(self.fd)


# ---------------------------------------------------------------------------------------------
# the runner


class Runner:
    def __init__(self, history: History, lab: Lab, *, verbose: bool = False) -> None:
        self.h = history
        self.c = history.cluster
        self.lab = lab
        self.model = Model(self.c)
        self.verbose = verbose
        self.result = Result(history, workdir=lab.workdir)
        n = len(self.c.nodes)
        self.hosts: list[Host] = [lab.add_host(NODE_NAMES[i]) for i in range(n)]
        self.client = lab.add_host("c")
        self.addr = [h.ip for h in self.hosts]
        self.index_of = {a: i for i, a in enumerate(self.addr)}
        self.daemons: list[VrrpDaemon | None] = [None] * n
        self.fifo_mark = [0] * n   # FIFO lines before the current daemon started
        self.fifos: list[FifoReader] = []
        self.loss: dict[int, int] = {}   # node -> percent (input VRRP loss)
        self.last_masters: set[int] = set()
        for i, h in enumerate(self.hosts):
            # no dummy module on this kernel: a veth pair inside the node
            h.ip_cmd("link", "add", "trk0", "type", "veth", "peer", "name", "trk0p")
            h.ip_cmd("link", "set", "trk0p", "up")
            h.ip_cmd("link", "set", "trk0", "up")
            self._path(i, "chk").write_text("ok\n")
            self._path(i, "track").write_text("0\n")
            self.fifos.append(FifoReader(self._path(i, "fifo")))
        self.cap: Capture = lab.capture(bpf="ip proto 112 or arp")
        self.tail = PcapTail(self.cap.path)

    # helpers ---------------------------------------------------------------------------------
    def _path(self, i: int, what: str) -> Path:
        return self.lab.workdir / f"{NODE_NAMES[i]}.{what}"

    def note(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.result.timeline.append(line)
        if self.verbose:
            print(line, flush=True)

    def vips(self) -> tuple[str, ...]:
        return VIP_SETS[self.model.vipset]

    def config(self, i: int) -> str:
        s = self.c.nodes[i]
        lines = ["global_defs {", f"    router_id {NODE_NAMES[i]}", f"    notify_fifo {self._path(i, 'fifo')}",
                 "}"]
        if s.script_weight is not None:
            lines += ["vrrp_script chk {", f'    script "/usr/bin/test -e {self._path(i, "chk")}"',
                      # keepalived 2.2.7 reads the interval as whole seconds ("0.2" is 0, then 1)
                      "    interval 1", "    rise 1", "    fall 1", "}"]
        if s.file_weight is not None:
            lines += ["vrrp_track_file tf {", f"    file {self._path(i, 'track')}", "}"]
        lines += ["vrrp_instance VI_1 {", f"    state {s.state}", "    interface eth0",
                  f"    virtual_router_id {VRID}", f"    priority {self.model.base[i]}",
                  f"    advert_int {self.c.advert_int:g}", f"    version {self.c.version}"]
        if s.nopreempt:
            lines.append("    nopreempt")
        if s.preempt_delay:
            lines.append(f"    preempt_delay {s.preempt_delay:g}")
        if self.c.unicast:
            lines += [f"    unicast_src_ip {self.addr[i]}", "    unicast_peer {",
                      *(f"        {a}" for k, a in enumerate(self.addr) if k != i), "    }"]
        if s.script_weight is not None:
            lines += ["    track_script {", f"        chk weight {s.script_weight}", "    }"]
        if s.trk_weight is not None:
            lines += ["    track_interface {", f"        trk0 weight {s.trk_weight}", "    }"]
        if s.file_weight is not None:
            lines += ["    track_file {", f"        tf weight {s.file_weight}", "    }"]
        lines += ["    virtual_ipaddress {", *(f"        {v}" for v in self.vips()), "    }", "}", ""]
        return "\n".join(lines)

    def start_daemon(self, i: int) -> None:
        impl = self.c.nodes[i].impl
        d = VrrpDaemon(self.hosts[i], self.config(i), implementation=impl, name=impl)
        # the mark before the start: whatever the last daemon wrote (a stopped one has exited, a
        # killed one wrote before it died) is read first, so every later line is the new daemon's
        # (the mark taken after the start missed a BACKUP written meanwhile: seed 50000)
        self.fifo_mark[i] = self.fifos[i].sync()
        d.start()
        self.daemons[i] = d

    def running(self, i: int) -> bool:
        d = self.daemons[i]
        return d is not None and d.alive

    def apply_net(self) -> None:
        """The partition, then the loss.

        The partition is cut on the bridge, between the nodes' bridge ports (VRRP only), in one
        nftables transaction: every link of the LAN changes at once, as when a switch splits or
        heals.  (Rules in each node, changed one node after the other, made a heal a sequence of
        one-way links: seed 50063, r1 heard r2 and yielded while r3 still dropped r2's adverts,
        so r3 heard nobody and took over, which the model of an atomic heal does not expect.)
        Loss: a share of the VRRP a node receives, dropped in that node."""
        rules = []
        for g in self.model.groups:
            for i in g:
                for k in range(len(self.hosts)):
                    if k not in g:
                        rules.append(f'add rule bridge histories cut iifname "{self._port(k)}" '
                                     f'oifname "{self._port(i)}" ip protocol 112 drop')
        self.lab_nft("add table bridge histories\n"
                     "add chain bridge histories cut { type filter hook forward priority -200; policy accept; }\n"
                     "flush chain bridge histories cut\n" + "\n".join(rules))
        for i, h in enumerate(self.hosts):
            h.undrop()
            if i in self.loss:
                h.drop("meta l4proto 112", percent=self.loss[i])

    def _port(self, i: int) -> str:
        """Node i's port on the bridge (tests/harness names it p<host index>l<lan>)."""
        return f"p{self.hosts[i].index}l0"

    def lab_nft(self, script: str) -> None:
        r = subprocess.run(["ip", "netns", "exec", self.lab.bridge_ns, "nft", "-f", "-"], input=script + "\n",
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise HarnessError(f"nft in the bridge namespace: {r.stderr.strip()}")

    # acknowledgements --------------------------------------------------------------------------
    def _log_offsets(self, i: int) -> tuple[int, int]:
        d = self.daemons[i]
        if d is None or d.proc is None:
            return (0, 0)
        return tuple(f.stat().st_size if f.exists() else 0 for f in (d.proc.out, d.proc.err))  # type: ignore[return-value]

    def _log_since(self, i: int, offsets: tuple[int, int]) -> str:
        d = self.daemons[i]
        if d is None or d.proc is None:
            return ""
        out = []
        for f, off in zip((d.proc.out, d.proc.err), offsets, strict=True):
            with contextlib.suppress(OSError), open(f, "rb") as fh:
                fh.seek(off)
                out.append(fh.read().decode(errors="replace"))
        return "".join(out)

    def snapshot(self) -> list[tuple[object, tuple[int, int], int, tuple[bool, int]]]:
        """Before an event: each node's daemon, log offsets, FIFO lines and modelled (fault, priority)."""
        return [(self.daemons[i], self._log_offsets(i), self.fifos[i].sync(), self.model.fault_and_priority(i))
                for i in range(len(self.hosts))]

    def expected_acks(self, e: Event, before: list[tuple[object, tuple[int, int], int, tuple[bool, int]]]
                      ) -> dict[int, list[tuple[str, re.Pattern[str], str | None]]]:
        """What each active node must log to show it took the event in: a state line after a start
        or a respawned VRRP child, a reload line after a SIGHUP, then the priority line (or a state
        line, into or out of FAULT) when its modelled priority changed."""
        m = self.model
        needs: dict[int, list[tuple[str, re.Pattern[str], str | None]]] = {}
        for i, (d_before, _, _, (fault_b, prio_b)) in enumerate(before):
            if not m.active(i) or self.daemons[i] is None:
                continue
            want: list[tuple[str, re.Pattern[str], str | None]] = []
            fault_a, prio_a = m.fault_and_priority(i)
            if self.daemons[i] is not d_before:
                want.append(("state", STATE_RE, None))     # a new daemon (the FIFO also counts)
            elif e.op == "kill_child" and e.node == i:
                want.append(("state", STATE_RE, None))
            else:
                if e.op == "reload_vips" or (e.op == "reload_prio" and e.node == i):
                    want.append(("reload", RELOAD_RE, None))
                if fault_a != fault_b:
                    want.append(("state", STATE_RE, None))
                elif not fault_a and prio_a != prio_b and not e.op.startswith("reload"):
                    # (after a reload keepalived logs no priority line when the base priority
                    # itself changed: seed 100073; the reload line is the acknowledgement)
                    want.append(("priority", PRIO_RE, str(prio_a)))
                elif (e.op == "sigcont" and e.node == i and not fault_a and not fault_b
                      and m.frozen_prio[i] != prio_a):
                    want.append(("priority", PRIO_RE, str(prio_a)))   # a change made while it was stopped
            if want:
                needs[i] = want
        return needs

    def acknowledged(self, e: Event, before: list[tuple[object, tuple[int, int], int, tuple[bool, int]]]) -> int:
        """Wait until each affected daemon logged that it took the event in (see expected_acks);
        returns the time (ns) the quiet period starts from: the last acknowledgement, or now if the
        wait ran out (noted in the timeline; the check then judges)."""
        needs = self.expected_acks(e, before)
        if not needs:
            return time.time_ns()
        limit = time.time() + ACK_TIMEOUT.get(e.op, ACK_TIMEOUT_DEFAULT)
        while True:
            missing = []
            for i, want in needs.items():
                d_before, offs, fifo_n, _ = before[i]
                text = self._log_since(i, (0, 0) if self.daemons[i] is not d_before else offs)
                for what, rx, value in want:
                    if value is not None:
                        hit = any(x == value for x in rx.findall(text))
                    else:
                        hit = rx.search(text) is not None
                    if not hit and what == "state":
                        mark = self.fifo_mark[i] if self.daemons[i] is not d_before else fifo_n
                        hit = len(self.fifos[i].states(mark)) > 0   # keepalived's silent INIT -> FAULT
                    if not hit:
                        missing.append(f"{NODE_NAMES[i]} {what}" + (f" {value}" if value else ""))
            if not missing:
                return time.time_ns()
            if time.time() > limit:
                self.note(f"  not acknowledged: {', '.join(missing)}; quiet period from now")
                return time.time_ns()
            time.sleep(0.05)

    # the events ------------------------------------------------------------------------------
    def apply(self, e: Event) -> None:
        i, m = e.node, self.model
        h = self.hosts[i] if i >= 0 else None
        advertised: set[int] | None = None
        if e.op == "script":
            p = self._path(i, "chk")
            if e.arg:
                p.write_text("ok\n")
            else:
                p.unlink(missing_ok=True)
        elif e.op == "trackif":
            assert h is not None
            h.set_link(bool(e.arg), "trk0")
        elif e.op == "trackfile":
            tmp = self._path(i, "track.tmp")
            tmp.write_text(f"{int(e.arg)}\n")
            tmp.rename(self._path(i, "track"))
        elif e.op == "reload_prio":
            m.base[i] = int(e.arg)
            self._reload(i)
        elif e.op == "reload_vips":
            m.vipset = int(e.arg)
            for k in range(len(self.hosts)):
                self._reload(k)
        elif e.op == "kill":
            d = self.daemons[i]
            if d is not None and d.alive:
                d.kill()
        elif e.op == "kill_child":
            d = self.daemons[i]
            pid = d.vrrp_pid() if d is not None and d.alive else None
            if pid is None or pid == (d.pid if d else None):
                self.note(f"  {NODE_NAMES[i]}: no VRRP child pid, nothing killed")
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        elif e.op == "stop":
            d = self.daemons[i]
            if d is not None and d.alive:
                self._cont(i)
                d.stop()
        elif e.op == "start":
            if not self.running(i):
                self._clear_orphans(i)
                self.start_daemon(i)
        elif e.op == "link":
            assert h is not None
            h.set_link(bool(e.arg), "eth0")
            if e.arg and self.c.unicast:   # ARP resolves at its next retransmit, within 1 s
                now = time.time_ns()
                self.tail.held[self.addr[i]] = (now, now + 1_500_000_000)
        elif e.op in ("partition", "heal"):
            m.apply(e)
            self.apply_net()
            return
        elif e.op == "loss":
            targets = range(len(self.hosts)) if i < 0 else [i]
            for k in targets:
                self.loss[k] = int(e.arg)
            self.apply_net()
            t0 = time.time_ns()
            time.sleep(4 * self.c.master_down(1) + 1.0)
            self.loss.clear()
            self.apply_net()
            # The loss lasts until its rules are gone (nft calls are slow on a loaded machine), and a
            # backup it starved times out at the latest one advert after that (seed 140168: r2
            # took over 1.9 s after the planned end of the loss, before the rules were removed)
            time.sleep(self.c.advert_int + 0.1)
            advertised = {self.index_of[src] for _, src, v in self.tail.between(t0, time.time_ns())
                          if v.priority > 0 and src in self.index_of}
        elif e.op == "vip_delete":
            masters = [k for k in self.last_masters if self.running(k)]
            if len(masters) != 1:
                self.note("  no single master: no VIP deleted")
                return
            k = masters[0]
            vip = self.vips()[0]
            self.hosts[k].run(["ip", "addr", "del", vip, "dev", "eth0"], check=False)
            self.note(f"  deleted {vip} on {NODE_NAMES[k]}")
        elif e.op == "sigstop":
            d = self.daemons[i]
            if d is None or not d.alive or m.frozen[i]:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(d.pid, signal.SIGSTOP)
        elif e.op == "sigcont":
            if not m.frozen[i]:
                return
            self._cont(i)
        m.apply(e, advertised)

    def _clear_orphans(self, i: int) -> None:
        """VIPs a SIGKILLed daemon left behind that the config no longer has (a reload changed
        the VIPs meanwhile): no daemon owns them (keepalived and pykeepalived remove only their
        configured VIPs at start), so the operator removes them before the restart.  Seed 70042:
        r2 killed as master of 192.0.2.102, the VIPs reloaded to .100/.101, r2 restarted: .102
        stayed, and the check took it for a backup holding a VIP."""
        want = {v.split("/")[0] for v in self.vips()}
        for a in sorted(set(self.hosts[i].addresses("eth0", family=4)) & set(ALL_VIPS) - want):
            self.hosts[i].run(["ip", "addr", "del", f"{a}/24", "dev", "eth0"], check=False)
            self.note(f"  removed {a} from {NODE_NAMES[i]} (left by a killed daemon, no longer configured)")

    def _cont(self, i: int) -> None:
        d = self.daemons[i]
        if d is not None and d.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(d.pid, signal.SIGCONT)

    def _reload(self, i: int) -> None:
        d = self.daemons[i]
        if d is None:
            return
        d.conf_path.write_text(self.config(i))
        if d.alive:
            d.reload()   # a SIGSTOPped daemon gets it on SIGCONT

    # the checks ------------------------------------------------------------------------------
    def wire_problems(self, t0: int, t1: int) -> tuple[list[str], set[int]]:
        """Problems with the adverts seen in [t0, t1], and the masters seen."""
        m = self.model
        problems: list[str] = []
        adverts = self.tail.between(t0, t1)
        by_node: dict[int, list[Vrrp]] = {}
        for _, src, v in adverts:
            if src not in self.index_of:
                problems.append(f"advert from unknown source {src}")
                continue
            by_node.setdefault(self.index_of[src], []).append(v)
        zero = sorted(NODE_NAMES[k] for k, vs in by_node.items() if any(v.priority == 0 for v in vs))
        if zero:
            problems.append(f"priority 0 adverts in the quiet window from {', '.join(zero)}")
        sending = {k for k, vs in by_node.items() if any(v.priority > 0 for v in vs)}
        masters: set[int] = set()
        covered: set[int] = set()
        want_vips = sorted(v.split("/")[0] for v in self.vips())
        for comp, ok in m.acceptable():
            covered |= comp
            seen = sending & comp
            names = ", ".join(NODE_NAMES[k] for k in sorted(comp))
            if not seen and len(comp) == 1 and self.c.unicast and not any(
                    m.link[j] for j in range(len(self.hosts)) if j not in comp):
                # unicast and every peer's link down: the kernel cannot resolve a peer, so the
                # master's adverts never reach the wire; its log, FIFO and VIPs are checked instead
                masters |= comp
                continue
            if not seen:
                problems.append(f"no master among {names} (expected one of "
                                f"{', '.join(NODE_NAMES[k] for k in sorted(ok))})")
                continue
            if len(seen) > 1:
                problems.append(f"{len(seen)} nodes advertise among {names}: "
                                + ", ".join(NODE_NAMES[k] for k in sorted(seen)))
            masters |= seen
            for k in seen:
                if k not in ok:
                    problems.append(f"{NODE_NAMES[k]} is master, expected one of "
                                    f"{', '.join(NODE_NAMES[x] for x in sorted(ok))} (priorities: "
                                    + ", ".join(f"{NODE_NAMES[x]} {m.priority(x)}" for x in sorted(comp)) + ")")
                prios = sorted({v.priority for v in by_node[k] if v.priority > 0})
                if prios != [m.priority(k)]:
                    problems.append(f"{NODE_NAMES[k]} advertises priority {prios}, expected {m.priority(k)}")
                addrs = {tuple(sorted(v.addresses)) for v in by_node[k] if v.priority > 0}
                if addrs != {tuple(want_vips)}:
                    problems.append(f"{NODE_NAMES[k]} advertises addresses {sorted(addrs)}, expected {want_vips}")
        strays = sending - covered
        if strays:
            problems.append("adverts from nodes that should be silent (stopped, FAULT): "
                            + ", ".join(NODE_NAMES[k] for k in sorted(strays)))
        return problems, masters

    def host_problems(self, masters: set[int]) -> list[str]:
        m = self.model
        problems = []
        want = {v.split("/")[0] for v in self.vips()}
        stale_elsewhere = False
        for i, h in enumerate(self.hosts):
            have = set(h.addresses("eth0", family=4)) & set(ALL_VIPS)
            if not m.active(i):
                stale_elsewhere = stale_elsewhere or bool(have)
                continue
            if i in masters:
                if have != want:
                    problems.append(f"master {NODE_NAMES[i]} has VIPs {sorted(have)}, expected {sorted(want)}")
            elif have:
                problems.append(f"{NODE_NAMES[i]} (not master) has VIPs {sorted(have)}")
            d = self.daemons[i]
            assert d is not None
            states = STATE_RE.findall(d.log())
            last = states[-1] if states else None
            fifo = self.fifos[i].last_state()
            if i in masters:
                expect = {"MASTER"}
            elif m.expected_state(i) == "FAULT":
                expect = {"FAULT"}
            else:
                expect = {"BACKUP"}
            # keepalived 2.2.7 logs no "Entering FAULT STATE" for an instance that leaves INIT for
            # FAULT (a weight-0 script failing its first run): the FIFO says FAULT, the log nothing
            silent_fault = expect == {"FAULT"} and fifo == "FAULT" and last in (None, "BACKUP")
            if last not in expect and not silent_fault:
                problems.append(f"{NODE_NAMES[i]}'s log says {last}, expected {'/'.join(sorted(expect))}")
            if fifo not in expect:
                problems.append(f"{NODE_NAMES[i]}'s notify FIFO says {fifo}, expected {'/'.join(sorted(expect))}")
            # every transition the daemon logged reached the FIFO, in order (repeats collapsed)
            # (FAULT left out: see silent_fault; the last state is checked above)
            fifo_seq = _collapse([x for x in self.fifos[i].states(self.fifo_mark[i]) if x != "FAULT"])
            log_seq = _collapse([x for x in states if x != "FAULT"])
            if fifo_seq != log_seq:
                problems.append(f"{NODE_NAMES[i]}'s notify FIFO sequence {fifo_seq} differs from its logged "
                                f"transitions {log_seq}")
        self._stale = stale_elsewhere
        return problems

    def client_problems(self, masters: set[int]) -> list[str]:
        if len(self.model.groups) > 1 or len(masters) != 1 or self._stale:
            return []   # a partition, or a dead daemon's VIP left behind: two hosts answer ARP
        (k,) = masters
        vip = self.vips()[0].split("/")[0]
        mac = self.hosts[k].mac()
        announcer = self.tail.last_announcer(vip)
        if announcer is not None and announcer != mac:
            # keepalived 2.2.7 as well: a master that stays master when another one yields to it (a
            # partition healed) sends no GARP, so the client keeps the loser's MAC until it re-resolves
            got = self.client.neigh(vip)
            if got is None:
                # the loser's entry was probed, unanswered (it removed the VIP): FAILED.  The next
                # packet resolves anew by broadcast, and only the master may answer (seed 90015)
                self.client.ping(vip, timeout=1)
                got = self.client.neigh(vip)
                if got != mac:
                    return [f"client's neighbour entry for {vip} is {got} after its stale entry failed and "
                            f"a ping resolved it anew: master {NODE_NAMES[k]} is {mac}"]
                return []
            if got not in (mac, announcer):
                return [f"client's neighbour entry for {vip} is {got}: neither master {NODE_NAMES[k]} nor the "
                        f"last ARP announcement ({announcer})"]
            self.note(f"  client's entry for {vip} may be stale: last announced by {announcer}, not the master")
            return []
        if not self.client.ping(vip, timeout=1):
            return [f"client cannot ping {vip}"]
        got = self.client.neigh(vip)
        if got != mac:
            return [f"client's neighbour entry for {vip} is {got}, master {NODE_NAMES[k]} is {mac}"]
        return []

    def preempt_delay_problems(self, t_event: int, incumbents: set[int], masters: set[int]) -> list[str]:
        """A backup with preempt_delay that preempted a running master did so no sooner than the
        delay after the event (keepalived starts the delay at the first lower-priority advert)."""
        m = self.model
        problems = []
        for k in masters - incumbents:
            delay = m.preempt_delay(k)
            comp = next((c for c in m.components() if k in c), set())
            preempted = [j for j in incumbents - masters if j in comp and m.priority(j) < m.priority(k)]
            if not delay or not preempted:
                continue
            first = [ts for ts, src, v in self.tail.between(t_event, time.time_ns())
                     if src == self.addr[k] and v.priority > 0]
            if first and first[0] < t_event + int((delay - 0.05) * 1e9):
                problems.append(f"{NODE_NAMES[k]} preempted {(first[0] - t_event) / 1e9:.3f} s after the event, "
                                f"before its preempt_delay {delay:g}")
        return problems

    def pauses(self, t0: int, t1: int, e: Event | None = None) -> str:
        """For a failure's message: masters whose adverts paused longer than three advert intervals
        in [t0, t1] (a starved process on the loaded machine: its backups time out rightly)."""
        limit = 3 * self.c.advert_int
        last: dict[str, int] = {}
        worst: dict[str, float] = {}
        # from one master-down interval before: a pause that spans the event counts
        prev: tuple[int, str] | None = None
        for ts, src, v in self.tail.between(t0 - int(self.c.master_down(1) * 1e9), t1):
            if v.priority == 0:
                last.pop(src, None)
                prev = None
                continue
            if src in last:
                gap = (ts - last[src]) / 1e9
                if limit < gap < 10.0:   # longer: it was no master meanwhile
                    worst[src] = max(worst.get(src, 0.0), gap)
            # silence on the wire before another node took over, while the last sender was
            # still up (not killed, stopped, frozen, in FAULT): it went quiet, was replaced and
            # then yielded, so it has no later advert of its own (seed 130146)
            # (not after events that silence a master on purpose: its VRRP child killed, its VIP
            # deleted, a reload of the VIPs)
            if (prev is not None and prev[1] != src and prev[1] in self.index_of
                    and (e is None or e.op not in ("kill_child", "vip_delete", "reload_vips"))):
                gap = (ts - prev[0]) / 1e9
                if limit < gap < 10.0 and self.model.candidate(self.index_of[prev[1]]):
                    worst[prev[1]] = max(worst.get(prev[1], 0.0), gap)
            last[src] = ts
            prev = (ts, src)
        if not worst:
            return ""
        return (" [adverts paused: " + ", ".join(f"{NODE_NAMES[self.index_of[a]] if a in self.index_of else a} "
                                                 f"{g:.3f} s" for a, g in sorted(worst.items()))
                + " > 3 x advert_int: a starved master?]")

    def check(self, t_event: int, e: Event | None, t_quiet: int | None = None) -> None:
        """The invariants, once the quiet period after the event (from `t_quiet`, when the daemons
        had taken it in) and one window of the wire have passed; polled until they hold or a
        deadline.  `t_event` bounds the flap and preempt_delay checks."""
        m = self.model
        settle = m.settle_time(e if e is not None else Event("start"))
        md = self.c.master_down(1)
        window = max(0.5, md + self.c.advert_int)
        start = (t_quiet if t_quiet is not None else t_event) + int(settle * 1e9)
        deadline = start + int((window + max(6.0, 8 * md)) * 1e9)
        problems: list[str] = []
        incumbents = set(m.definite)
        # no transition due: the master stays; any other node advertising meanwhile is a flap
        stable = (e is not None and e.op not in ("loss", "sigstop", "sigcont", "partition", "heal")
                  and not m.possible and bool(incumbents)
                  and all(ok == (incumbents & comp) for comp, ok in m.acceptable()))
        while True:
            now = time.time_ns()
            if now < start + window * 1e9:
                time.sleep((start + window * 1e9 - now) / 1e9)
                now = time.time_ns()
            # tcpdump -U writes each packet at once; give it a moment
            problems, masters = self.wire_problems(now - int(window * 1e9), now - 50_000_000)
            if not problems:
                problems = self.host_problems(masters)
            if not problems:
                problems = self.client_problems(masters)
            if not problems:
                problems = self.preempt_delay_problems(t_event, incumbents, masters)
            if not problems and stable and masters == incumbents:
                flaps = sorted({self.index_of.get(src, -1) for _, src, v in self.tail.between(t_event, now)
                                if v.priority > 0 and self.index_of.get(src) not in masters | self.last_masters})
                if flaps:
                    raise InvariantError("no transition was due, yet "
                                         + ", ".join(NODE_NAMES[k] for k in flaps if k >= 0)
                                         + " advertised after the event (a flap)" + self.pauses(t_event, now, e))
            if not problems:
                m.observed(masters)
                self.last_masters = masters
                self.note("  ok: master " + (", ".join(f"{NODE_NAMES[k]} ({m.priority(k)})" for k in sorted(masters))
                                              or "none"))
                return
            if time.time_ns() > deadline:
                raise InvariantError("; ".join(problems) + self.pauses(t_event, time.time_ns(), e))
            time.sleep(0.2)

    # the history -----------------------------------------------------------------------------
    def run(self) -> Result:
        r = self.result
        self.note(self.h.describe())
        try:
            t0 = time.time_ns()
            before = self.snapshot()
            for i in range(len(self.hosts)):
                self.start_daemon(i)
            self.note("start: all daemons")
            try:
                self.check(t0, None, self.acknowledged(Event("start"), before))
            except InvariantError as exc:
                r.failure = Failure(-1, "start", str(exc))
                return r
            for n, e in enumerate(self.h.events):
                self.note(f"event {n}: {e}")
                before = self.snapshot()
                t = time.time_ns()
                self.apply(e)
                r.events_applied += 1
                try:
                    self.check(t, e, self.acknowledged(e, before))
                except InvariantError as exc:
                    r.failure = Failure(n, str(e), str(exc))
                    self.note(f"  FAILED: {exc}")
                    return r
            return r
        finally:
            self.close()

    def close(self) -> None:
        for i in range(len(self.hosts)):
            self._cont(i)
        with contextlib.suppress(Exception):
            self.cap.stop()
        for i, f in enumerate(self.fifos):
            f.close()
            with contextlib.suppress(OSError):
                self._path(i, "fifo.txt").write_text("\n".join(f.lines) + "\n")


def run_history(history: History, workdir: Path | None = None, *, verbose: bool = False) -> Result:
    """Play one history in a fresh lab (removed afterwards; logs stay in `workdir` if given)."""
    with Lab(workdir=workdir) as lab:
        try:
            return Runner(history, lab, verbose=verbose).run()
        except HarnessError as exc:
            raise HarnessError(f"history seed {history.seed}: {exc}") from exc


def daemon_logs(result: Result) -> str:
    """Every daemon log of a finished run (if its workdir was kept)."""
    if result.workdir is None or not result.workdir.exists():
        return ""
    out = []
    for p in sorted(result.workdir.glob("*.log.out")) + sorted(result.workdir.glob("*.log.err")):
        text = p.read_text(errors="replace")
        if text.strip():
            out.append(f"--- {p.name}\n{text}")
    return "\n".join(out)
