"""Differential config fuzzing against keepalived 2.2.7 `-t` (issue 16): generators and comparison.

The keywords do not come from our own table: fixtures/keepalived-2.2.7-keywords.json is extracted
from keepalived 2.2.7's parser tables (the install_keyword* calls of its parsers, with the
features of Debian's build) and value hints from its keepalived.conf(5); `fuzz/config_diff.py
--extract` regenerates it from a checkout. Each generated case is (class, files), files being
name -> bytes written into one directory, the main one "keepalived.conf". fuzz/config_diff.py
runs the long campaign; test_cfg_kadiff.py a fixed-seed slice."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TABLE_FILE = Path(__file__).parent / "fixtures" / "keepalived-2.2.7-keywords.json"
SAMPLES = Path("/work/shared/keepalived-samples/conformance")
MAIN = "keepalived.conf"

# keepalived's located messages: "(FILE: Line N) ...", or "(Line N) ..." while it reads a
# configuration of one file (vreport_config_error names the file only when there are several)
_LOCATED = re.compile(r"^\((?:([^()\n]+): )?Line (\d+)\) ", re.M)


def first_located(output: str) -> tuple[str, int] | None:
    """(file base name, line) of the first message naming a line (the main file when unnamed), or None."""
    m = _LOCATED.search(output)
    return (os.path.basename(m.group(1) or MAIN), int(m.group(2))) if m else None


def load_table() -> dict[str, object]:
    return json.loads(TABLE_FILE.read_text())  # type: ignore[no-any-return]


# ---- values -------------------------------------------------------------------------------------

LONG = "x" * 300
_NUMWORDS = ("NUMBER", "INTEGER", "INT", "TIMER", "SECS", "SECONDS", "BYTES", "DECIMAL", "PORT", "PRIORITY",
             "WEIGHT", "PRIO", "FLOAT", "DELAY", "MS", "MILLI", "COUNT", "ID", "TTL", "VALUE")


def _range(spec: str) -> tuple[float, float] | None:
    m = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:\.\.|:|\bto\b|-)\s*(-?\d+(?:\.\d+)?)", spec)
    return (float(m.group(1)), float(m.group(2))) if m else None


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def values(spec: str, cls: str, rng: random.Random) -> list[str]:
    """Candidate values of class `cls` for a keyword whose man page synopsis is `spec`."""
    up = spec.upper()
    rg = _range(spec)
    is_bool = "BOOL" in up
    is_num = rg is not None or any(w in up for w in _NUMWORDS) or re.fullmatch(r"-?\d+(\.\d+)?", spec.strip()) is not None
    is_ip = "IP" in up or "ADDR" in up
    is_if = "INTERFACE" in up
    choices = [w for w in re.findall(r"[A-Za-z_][\w-]*", re.sub(r"<[^>]*>", "", spec.split("[", 1)[-1] if "[" in spec
                                                                           and "|" in spec else spec)) if "|" in spec]
    lits = [t for t in re.split(r"\s+", re.sub(r"[\[\]<>{}]", " ", spec)) if t and t.upper() != t or re.fullmatch(r"-?\d+", t)]
    if cls == "valid":
        out = []
        if is_bool:
            out += ["", "true", "false", "yes", "no", "on", "off"]
        if rg:
            out += [_num(rg[0]), _num(rg[1]), _num((rg[0] + rg[1]) // 2)]
        if is_num and not rg:
            out += ["1", "3", "10"]
        if is_ip:
            out += ["10.0.0.9", "fd00::9", "192.168.1.1"]
        if is_if:
            out += ["eth0", "lo"]
        out += [c for c in choices if c.upper() not in ("STRING", "QUOTED_STRING", "NUMBER", "BITS")][:6]
        out += lits[:3]
        if not out:
            out = ["x", "/bin/true", "1", ""]
        return out
    if cls == "boundary":
        out = ["0", "1", "255", "65535", "2147483647", "4294967295"]
        if rg:
            out += [_num(rg[0]), _num(rg[1])]
        return out
    if cls == "out_of_range":
        out = ["-1", "4294967296", "99999999999999999999", "-2147483649", "1e3", "0.0001"]
        if rg:
            out += [_num(rg[0] - 1), _num(rg[1] + 1), _num(rg[1] + 0.5)]
        return out
    if cls == "wrong_type":
        wrong = ["abc", "1.2.3", "0x1g", "10.0.0.1", "eth0", "-", "1x", "TRUE", "maybe", '"quoted value"', "''", "\\",
                 "10/33", "fd00::zz", "10.0.0.300", "1,2", LONG, "é"]
        return wrong
    return [""]


def value_for(spec: str, cls: str, rng: random.Random) -> str:
    return rng.choice(values(spec, cls, rng))


# ---- block contexts -------------------------------------------------------------------------------

INSTANCE = ["  interface eth0", "  virtual_router_id 51", "  priority 100", "  virtual_ipaddress {", "    10.0.0.1",
            "  }"]
VS_HEAD = ["  lb_algo rr", "  lb_kind NAT", "  protocol TCP"]


def _indent(lines: list[str], n: int) -> list[str]:
    return [" " * n + ln if ln else ln for ln in lines]


def _without(skeleton: list[str], kw: str) -> list[str]:
    """The skeleton lines minus those setting `kw` (a block keyword takes its block with it)."""
    out, skip = [], 0
    for ln in skeleton:
        w = ln.split()
        if skip:
            skip += ln.count("{") - ln.count("}")
            continue
        if w and w[0] == kw:
            skip = ln.count("{") - ln.count("}")
            continue
        out.append(ln)
    return out


def wrap(path: tuple[str, ...], inner: list[str]) -> list[str]:
    """Config lines with `inner` (lines, unindented) placed inside the block at `path`."""
    kw = inner[0].split()[0] if inner and inner[0].split() else ""
    root = path[0] if path else ""
    if not path:
        return inner
    if root == "global_defs":
        return ["global_defs {", *_indent(inner, 2), "}"]
    if root == "vrrp_instance":
        if len(path) == 1:
            return ["vrrp_instance VI_1 {", *_without(INSTANCE, kw), *_indent(inner, 2), "}"]
        return ["vrrp_instance VI_1 {", *INSTANCE, f"  {path[1]} {{", *_indent(inner, 4), "  }", "}"]
    if root == "vrrp_sync_group":
        return ["vrrp_instance VI_1 {", *INSTANCE, "}", "vrrp_sync_group SG_1 {",
                *_without(["  group {", "    VI_1", "  }"], kw), *_indent(inner, 2), "}"]
    if root in ("vrrp_script",):
        return ["vrrp_script chk_1 {", *_without(["  script /bin/true"], kw), *_indent(inner, 2), "}"]
    if root in ("track_file", "vrrp_track_file"):
        return [f"{root} tf_1 {{", *_without(["  file /tmp/cfgdiff-tf"], kw), *_indent(inner, 2), "}"]
    if root == "garp_group":
        return ["garp_group {", *_without(["  interface eth0"], kw), *_indent(inner, 2), "}"]
    if root == "bfd_instance":
        return ["bfd_instance bfd_1 {", *_without(["  neighbor_ip 10.0.0.2"], kw), *_indent(inner, 2), "}"]
    if root == "vrrp_track_process":
        return ["vrrp_track_process tp_1 {", *_without(["  process sshd"], kw), *_indent(inner, 2), "}"]
    if root == "virtual_server":
        rs = ["  real_server 10.2.0.1 80 {", "    weight 1", "  }"]
        if len(path) == 1:
            return ["virtual_server 10.1.0.1 80 {", *_without(VS_HEAD, kw), *_indent(inner, 2), *rs, "}"]
        if len(path) == 2:
            return ["virtual_server 10.1.0.1 80 {", *VS_HEAD, "  real_server 10.2.0.1 80 {",
                    *_without(["    weight 1"], kw), *_indent(inner, 4), "  }", "}"]
        check = path[2]
        body = [f"    {check} {{"]
        # keepalived 2.2.7 crashes (SIGSEGV) on -t of an HTTP_GET/SSL_GET without a usable url
        url = ["      url {", "        path /", "      }"] if check in ("HTTP_GET", "SSL_GET") else []
        if len(path) == 3:
            body += url + _indent(inner, 6)
        else:
            body += [f"      {path[3]} {{", *_without(["        path /"], kw), *_indent(inner, 8), "      }"]
        return ["virtual_server 10.1.0.1 80 {", *VS_HEAD, "  real_server 10.2.0.1 80 {", *body, "    }", "  }", "}"]
    name = {"SSL": "", "static_ipaddress": "", "static_routes": "", "static_rules": "", "interface_up_down_delays": "",
            "linkbeat_interfaces": "", "virtual_server_group": " VSG_1", "track_group": " TG_1"}.get(root, "")
    return [f"{root}{name} {{", *_indent(inner, 2), "}"]


# ---- the keyword table ------------------------------------------------------------------------------

class Table:
    def __init__(self, data: dict[str, object]) -> None:
        self.roots: list[dict[str, object]] = data["roots"]  # type: ignore[assignment]
        self.specs: dict[str, list[str]] = data["specs"]  # type: ignore[assignment]
        self.entries: list[tuple[tuple[str, ...], str, bool]] = []  # (block path, keyword, has sub-keywords)
        for r in self.roots:
            self._walk((), r)

    def _walk(self, path: tuple[str, ...], node: dict[str, object]) -> None:
        sub: list[dict[str, object]] = node["sub"]  # type: ignore[assignment]
        self.entries.append((path, str(node["kw"]), bool(sub)))
        for s in sub:
            self._walk((*path, str(node["kw"])), s)

    def spec(self, kw: str, rng: random.Random) -> str:
        s = self.specs.get(kw)
        return rng.choice(s) if s else ""

    def leaf_entries(self) -> list[tuple[tuple[str, ...], str, bool]]:
        return [e for e in self.entries if e[0] and not e[2]]


# values for keywords whose value is a block of items (no sub-keywords in the table)
BLOCK_ITEMS = ["10.0.0.5", "10.0.0.6/24", "10.0.0.7/24 dev eth0", "10.0.0.8/24 dev eth9", "fd00::5/64", "10.0.0.300",
               "eth0", "eth0 weight 10", "eth9", "eth0 weight 300", "chk_1", "chk_1 weight 5", "nosuch", "VI_1", "VI_2",
               "10.9.0.0/16 via 10.0.0.1 dev eth0", "blackhole 10.8.0.0/16", "from 10.0.0.0/24 table 100",
               "10.3.0.1 80", "10.3.0.2-5 80", "fwmark 5", "10.0.0.20", "bad", "", "x" * 300, "10.0.0.1 label eth0:1",
               "tf_1", "tf_1 weight -3 reverse", "eth0 2 3", "{", "}"]
_BLOCKISH = ("{",)


def _is_block_kw(spec: str) -> bool:
    return re.search(r"(^|\s)\{\s*(\\e)?$", spec) is not None


CLASSES = ("valid", "boundary", "out_of_range", "wrong_type", "missing", "extra", "duplicated", "overlong",
           "misnested", "root_nested", "block_value", "preprocessor", "mutation")


def gen_keyword(table: Table, cls: str, rng: random.Random) -> dict[str, bytes]:
    """One config exercising one keyword of one block with a value of class `cls`."""
    entries = table.leaf_entries()
    if cls == "block_value":
        entries = [e for e in entries if any(_is_block_kw(s) for s in table.specs.get(e[1], []))]
    path, kw, _ = rng.choice(entries)
    spec = table.spec(kw, rng)
    if _is_block_kw(spec) and cls in ("valid", "boundary", "out_of_range", "wrong_type"):
        cls = "block_value"
    if cls == "block_value":
        items = [rng.choice(BLOCK_ITEMS) for _ in range(rng.randint(0, 3))]
        inner = [f"{kw} {{", *("  " + i for i in items), "}"] if rng.random() < 0.8 else [f"{kw} {{ {' '.join(items)} }}"]
    elif cls == "missing":
        inner = [kw]
    elif cls == "extra":
        inner = [f"{kw} {value_for(spec, 'valid', rng)} {rng.choice(['extra', '1', 'x y z', '{', '}'])}"]
    elif cls == "duplicated":
        inner = [f"{kw} {value_for(spec, 'valid', rng)}".rstrip(), f"{kw} {value_for(spec, 'valid', rng)}".rstrip()]
    elif cls == "overlong":
        inner = [f"{kw} {rng.choice(['x' * 300, '/' + 'a' * 4200, '1' * 40, 'x' * 65, 'y' * 16, 'z' * 17])}"]
    else:
        inner = [f"{kw} {value_for(spec, cls, rng)}".rstrip()]
    lines = wrap(path, inner)
    return {MAIN: ("\n".join(lines) + "\n").encode()}


def gen_misnested(table: Table, rng: random.Random) -> dict[str, bytes]:
    """A keyword of one block placed in another block (or at top level)."""
    path, kw, _ = rng.choice(table.leaf_entries())
    spec = table.spec(kw, rng)
    val = "{\n  10.0.0.5\n}" if _is_block_kw(spec) else value_for(spec, "valid", rng)
    others = sorted({e[0] for e in table.entries if e[0] != path} | {()})
    where = rng.choice(others)
    return {MAIN: ("\n".join(wrap(where, f"{kw} {val}".rstrip().split("\n"))) + "\n").encode()}


def gen_root_nested(table: Table, rng: random.Random) -> dict[str, bytes]:
    """A whole top-level block inside another block."""
    roots = [r for r in table.roots if r["sub"]]
    inner_root = rng.choice(roots)
    sub = rng.choice(inner_root["sub"])  # type: ignore[arg-type]
    kw = str(sub["kw"])
    inner = [f"{inner_root['kw']} {rng.choice(['', 'N_1 '])}{{", f"  {kw} {value_for(table.spec(kw, rng), 'valid', rng)}".rstrip(),
             "}"]
    others = sorted({e[0] for e in table.entries if e[0]})
    return {MAIN: ("\n".join(wrap(rng.choice(others), inner)) + "\n").encode()}


# ---- preprocessor ----------------------------------------------------------------------------------

PP_INCLUDES = ["include inc1.conf", "include inc*.conf", "include nothere.conf", "include no*.conf", "include {inc1,inc2}.conf",
               "include", "include inc1.conf inc2.conf", "includer nothere.conf", "includem nothere.conf", "includem inc1.conf",
               "includew no*.conf", "includew inc*.conf", "includeb {a,b}.conf", "includea nothere.conf", "includex inc1.conf",
               "include_check", "include_check match", "include_check +match -readable", "include_check bogus",
               "include ${_PWD}/inc1.conf", "include sub/", "include inc1.conf # c", "include \"inc1.conf\""]
PP_DEFS = ["$A=1", "$A = 1", "$A =1", "$A= 1", "$A=", "$A", "$ A=1", "$A=eth0", "$B=10.0.0.1", "$B=$A", "$C=${A}0",
           "$M=priority 100", "$M= \\\npriority 100 \\\nadvert_int 1", "$M=\\", "$A=1 # c", "$_PWD=x", "$A(1)=2",
           "$1=x", "$A-B=1", "$A=${_RANDOM 1 5}", "$A=${_RANDOM 5 1}", "$A=${_RANDOM x}", "$E=${_ENV HOME}", "$E=$HOME"]
PP_USES = ["priority $A", "priority ${A}", "priority $A0", "priority ${A}0", "advert_int $A", "$M", "${M}", "interface $A",
           "priority $UNDEF", "priority ${_RANDOM 1 254}", "priority ${_RANDOM}", "mcast_src_ip $B", "priority ${_HASH}1",
           "priority ${_BANG}", "priority $HOME", "priority ${HOME}", "priority ${_ENV PRIO}", "priority $PRIO",
           "priority ${_INSTANCE}", "@vm priority 50", "@^vm priority 50", "@other priority 50", "@^other priority 50",
           "@vm", "@ priority 50", "@vm@x priority 3", "~SEQ(i, 1, 3) unicast_peer_x $i", "~SEQ(i, 1, 2) priority ${i}0",
           "~SEQ(i,3) priority $i", "~SEQ(i, 2, 1, 0) priority $i", "~SEQ(i) priority 1", "~SEQ(i, 1, x) priority 1",
           "~SEQx(i, 9, 11) priority $i", "~SEQx(i, -1, 1) priority $i", "~LST(v, 10, 20) priority $v",
           "~LST(v) priority 1", "~LST(v, a, b, c) priority $v", "~LST((v,w), (1,2), (3,4)) priority $v$w",
           "~SEQ (i, 1, 2) priority $i", "~SEQ(i, 1, 2)priority $i", "~SEQ(i, 1, 100000) priority 1", "~FOO(i) x",
           "~SEQ(i, 1, 2) ~LST(v, 1, 2) priority $i$v", "priority 100 \\\n  100", "priority \\"]
INCLUDED = {"inc1.conf": b"global_defs {\n  router_id inc1\n}\n", "inc2.conf": b"$PRIO=77\n",
            "sub/a.conf": b"bogus_in_sub\n"}


def gen_preprocessor(rng: random.Random) -> dict[str, bytes]:
    """A config mixing definitions, conditionals, sequences and includes (run with config-id `vm`,
    PRIO=42 and HOME in the environment)."""
    head = [rng.choice(PP_DEFS) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.4:
        head.append(rng.choice(PP_INCLUDES))
    body = [rng.choice(PP_USES) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        body.insert(0, rng.choice(PP_DEFS))
    if rng.random() < 0.2:
        body.append(rng.choice(PP_INCLUDES))
    files = dict(INCLUDED)
    lines = [*head, "vrrp_instance VI_1 {", "  interface eth0", "  virtual_router_id 51", *_indent(body, 2),
             "  virtual_ipaddress {", "    10.0.0.1", "  }", "}"]
    if rng.random() < 0.2:
        files["inc1.conf"] = ("\n".join([rng.choice(PP_DEFS), rng.choice(PP_INCLUDES), "bogus_kw"]) + "\n").encode()
    files[MAIN] = ("\n".join(lines) + "\n").encode()
    return files


PP_ENV = {"PRIO": "42", "HOME": "/root"}
CONFIG_ID = "vm"


# ---- sample mutation ---------------------------------------------------------------------------------

def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*/*") if p.is_file())


def _tokens(data: bytes) -> list[bytes]:
    return re.findall(rb"\s+|[^\s]+", data)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Token deletion, duplication, swap, line deletion/duplication or byte noise (1-3 of them)."""
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["del", "dup", "swap", "line_del", "line_dup", "noise", "brace"])
        toks = _tokens(data)
        words = [i for i, t in enumerate(toks) if not t.isspace()]
        if op in ("del", "dup", "swap") and len(words) >= 2:
            i = rng.choice(words)
            if op == "del":
                toks[i] = b""
            elif op == "dup":
                toks[i] = toks[i] + b" " + toks[i]
            else:
                j = rng.choice(words)
                toks[i], toks[j] = toks[j], toks[i]
            data = b"".join(toks)
        elif op in ("line_del", "line_dup"):
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            if op == "line_del":
                del lines[i]
            else:
                lines.insert(i, lines[i])
            data = b"\n".join(lines)
        elif op == "brace":
            i = rng.randrange(len(data) + 1)
            data = data[:i] + rng.choice([b"{", b"}", b" { ", b"\n}\n"]) + data[i:]
        elif data:
            i = rng.randrange(len(data))
            data = data[:i] + bytes([rng.choice([0, 9, 10, 13, 34, 35, 33, 36, 64, 92, 123, 125, 126, 255,
                                                 rng.randrange(256)])]) + data[i + 1:]
    return data


def prepare_helpers(samples: list[Path], helpers: Path) -> None:
    """The helper scripts the samples name as @@DIR@@/NAME: 0755 scripts in a 0755 directory
    (the caller makes it root-owned, as keepalived's script security wants)."""
    helpers.mkdir(mode=0o755, parents=True, exist_ok=True)
    helpers.chmod(0o755)
    for p in samples:
        for name in set(re.findall(rb"@@DIR@@/([A-Za-z0-9_.-]+)", p.read_bytes())):
            script = helpers / name.decode()
            script.write_text("#!/bin/sh\nexit 0\n")
            script.chmod(0o755)


def gen_mutation(rng: random.Random, samples: list[Path], helpers: str) -> dict[str, bytes]:
    src = rng.choice(samples)
    data = src.read_bytes().replace(b"@@DIR@@", helpers.encode())
    return {MAIN: mutate(data, rng)}


def generate(table: Table, cls: str, rng: random.Random, *, samples: list[Path], helpers: str) -> dict[str, bytes]:
    if cls == "misnested":
        return gen_misnested(table, rng)
    if cls == "root_nested":
        return gen_root_nested(table, rng)
    if cls == "preprocessor":
        return gen_preprocessor(rng)
    if cls == "mutation":
        return gen_mutation(rng, samples, helpers)
    return gen_keyword(table, cls, rng)


def write_case(files: dict[str, bytes], directory: Path) -> Path:
    for name, data in files.items():
        p = directory / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return directory / MAIN


# ---- running a case -----------------------------------------------------------------------------------

KEEPALIVED = "/usr/sbin/keepalived"
IFS = frozenset({"lo", "eth0", "eth0p"})  # what the namespace has
BUDGET = 10.0  # CPU seconds per check; over it is a hang
WALL = 120.0  # wall seconds after which a check is stopped (and is a hang)
CRASHES = {-11, -6, 134, 139}  # keepalived 2.2.7 crashing is not a behaviour to compare
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def run_ours(main: Path, config_id: str | None) -> tuple[int | str, list[tuple[str, int]], str, float]:
    """Ours in-process: (exit code or 'hang'/'traceback', located (file, line)s in order, messages,
    CPU seconds). The budget is CPU time (ITIMER_PROF): on the shared machine a niced process
    waits far longer for a core than it computes, so wall time would call a 2 s read a hang."""
    from pykeepalived.config import load

    t0 = time.process_time()
    cwd = os.getcwd()
    old = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, BUDGET)
    try:
        r = load(str(main), config_id=config_id, interfaces=IFS)
    except Hang:
        return "hang", [], "", time.process_time() - t0
    except Exception as exc:  # noqa: BLE001 (a traceback is a finding)
        return "traceback", [], f"{type(exc).__name__}: {exc}", time.process_time() - t0
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        os.chdir(cwd)
    locs = [(os.path.basename(d.file), d.line) for d in r.diagnostics if d.line is not None and d.file]
    return r.exit_code, locs, "\n".join(d.format() for d in r.diagnostics), time.process_time() - t0


def run_cmd(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[int | str, str, float]:
    """(exit code or 'hang', output, CPU seconds of the command and its children). The command
    is killed after WALL seconds; over BUDGET CPU seconds is a hang too."""
    t0 = os.times()
    try:
        p = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, timeout=WALL)
    except subprocess.TimeoutExpired:
        return "hang", "", WALL
    t1 = os.times()
    cpu = t1.children_user + t1.children_system - t0.children_user - t0.children_system
    return p.returncode if cpu <= BUDGET else "hang", (p.stderr + p.stdout).decode("utf-8", "replace"), cpu


def keepalived_t(ns: str, main: Path, config_id: str | None, env: dict[str, str]) -> tuple[int | str, str, float]:
    extra = ["-i", config_id] if config_id else []
    return run_cmd(["ip", "netns", "exec", ns, KEEPALIVED, "-t", "-l", "-f", str(main), *extra], env, main.parent)


def ours_cli(ns: str, main: Path, config_id: str | None, env: dict[str, str]) -> tuple[int | str, str, float]:
    """`python -m pykeepalived -t` in the namespace, importing the same sources as the in-process run."""
    import pykeepalived

    extra = ["-i", config_id] if config_id else []
    env = dict(env, PYTHONPATH=str(Path(pykeepalived.__file__).resolve().parents[1]))
    return run_cmd(["ip", "netns", "exec", ns, sys.executable, "-m", "pykeepalived", "-t", "-f", str(main), *extra],
                   env, main.parent)


def check_case(ns: str, table: Table, cls: str, seed: int, *, samples: list[Path], helpers: Path, work: Path,
               cli: bool = False) -> dict[str, Any]:
    """Generate case `seed` of class `cls`, check it with both, return the record (files and
    outputs included when they disagree)."""
    rng = random.Random(seed)
    files = generate(table, cls, rng, samples=samples, helpers=str(helpers))
    case = Path(tempfile.mkdtemp(dir=work))
    case.chmod(0o755)
    try:
        main = write_case(files, case)
        cid = CONFIG_ID if cls == "preprocessor" else None
        env = dict(BASE_ENV, **PP_ENV) if cls == "preprocessor" else dict(BASE_ENV)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            ours, olocs, omsg, osec = run_ours(main, cid)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        oloc = olocs[0] if olocs else None
        real, rout, rsec = keepalived_t(ns, main, cid, env)
        rloc = first_located(rout)
        exit_ok = ours == real
        rec: dict[str, Any] = {"seed": seed, "class": cls, "real": real, "ours": ours, "real_loc": rloc,
                               "ours_loc": oloc, "exit_ok": exit_ok, "loc_ok": exit_ok and oloc == rloc,
                               # keepalived's first located line is one of ours (ours may come in another order)
                               "loc_in": exit_ok and (rloc in olocs if rloc else not olocs),
                               "ours_s": round(osec, 3), "real_s": round(rsec, 3)}
        if cli:
            c_code, c_out, _ = ours_cli(ns, main, cid, env)
            rec["cli"] = {"exit": c_code, "loc": first_located(c_out)}
            rec["cli_ok"] = c_code == ours and rec["cli"]["loc"] == oloc
        if not rec["loc_ok"] or real in CRASHES:
            rec["files"] = {k: v.decode("utf-8", "backslashreplace") for k, v in files.items()
                            if k == MAIN or INCLUDED.get(k) != v}
            rec["real_out"] = rout[-3000:]
            rec["ours_out"] = omsg[-3000:]
        return rec
    finally:
        shutil.rmtree(case, ignore_errors=True)


def make_netns(name: str) -> Any:
    """A context manager: a private namespace with lo, eth0 (up) and its veth peer eth0p."""
    import contextlib

    from harness import private_netns

    @contextlib.contextmanager
    def cm() -> Any:
        with private_netns(name) as ns:
            subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
            yield ns

    return cm()
