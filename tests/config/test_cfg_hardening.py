"""Configuration inputs that crashed us or that we accepted where keepalived 2.2.7 refuses
(issue 24, items 5 and 7): instances without an interface, rule/route keywords without a
value, bytes that are not UTF-8 (kept as surrogates by the loader) on their way out."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cfg_difffuzz import gen_macro, include_graph, rule_route_cases, vip_count_config
from cfg_netns import KEEPALIVED, NS_INTERFACES, Netns

from harness import private_netns
from pykeepalived.config import load
from pykeepalived.core.actions import Notify
from pykeepalived.io.notify import fifo_line
from pykeepalived.textbytes import to_bytes

PY = [sys.executable, "-m", "pykeepalived"]
NOIF = "vrrp_instance VI_1 {\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n"
RR_CASES = rule_route_cases()


# ---- item 5: no interface ---------------------------------------------------------------------

def test_instance_without_interface_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "k.conf"
    path.write_text(NOIF)
    r = load(str(path), interfaces=NS_INTERFACES)
    assert r.exit_code == 5
    stops = [d for d in r.diagnostics if d.stops]
    assert [d.format() for d in stops] == [f"({path}: Line 1) (VI_1) Unknown interface!"]


def _run_daemon(netns: Netns, argv: list[str], tmp: Path) -> tuple[int | None, str]:
    """Start a daemon in the namespace for at most 15 s: its exit code (None: still running) and output."""
    cmd = ["ip", "netns", "exec", netns.name, *argv, "-n", "-l", "-D", "-f", str(tmp / "k.conf"),
           "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid"), "-c", str(tmp / "c.pid")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    try:
        out, _ = p.communicate(timeout=15)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=15)
        return None, out


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("text", [NOIF, "global_defs {\n  default_interface eth0\n}\n" + NOIF],
                         ids=["plain", "default_interface"])
def test_daemon_refuses_instance_without_interface_like_keepalived(netns: Netns, tmp_path: Path, text: str) -> None:
    (tmp_path / "k.conf").write_text(text)
    real, real_out = _run_daemon(netns, [KEEPALIVED], tmp_path)
    ours, our_out = _run_daemon(netns, PY, tmp_path)
    assert real is not None and real != 0, real_out
    assert ours == real, our_out
    assert "(VI_1) Unknown interface!" in real_out and "(VI_1) Unknown interface!" in our_out


# ---- item 7: rule / route keywords without a value ---------------------------------------------

@pytest.mark.parametrize(("cid", "text"), RR_CASES, ids=[c[0] for c in RR_CASES])
def test_rule_route_keyword_without_value_is_reported(tmp_path: Path, cid: str, text: str) -> None:
    path = tmp_path / "k.conf"
    path.write_text(text)
    r = load(str(path), interfaces=NS_INTERFACES)  # never raises (virtual_rules { to } did: IndexError)
    assert r.exit_code in (0, 2, 5), [d.format() for d in r.diagnostics]
    if r.exit_code:
        assert any(d.line == 5 for d in r.diagnostics if d.level), [d.format() for d in r.diagnostics]


@pytest.mark.privileged
@pytest.mark.interop
def test_rule_route_keyword_without_value_same_exit_as_keepalived(netns: Netns, tmp_path: Path) -> None:
    mismatches = []
    for cid, text in RR_CASES:
        path = tmp_path / f"{cid}.conf"
        path.write_text(text)
        real, out = netns.keepalived_t(path)
        ours = load(str(path), interfaces=frozenset({"lo", "eth0", "eth0p"}))
        if ours.exit_code != real:
            mismatches.append(f"{cid}: keepalived {real} ours {ours.exit_code}\n{out}")
    assert not mismatches, "\n".join(mismatches[:5])


# ---- item 7: bytes that are not UTF-8 -----------------------------------------------------------

LATIN1_AUTH = (b"vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  authentication {\n"
               b"    auth_type PASS\n    auth_pass a\xe9b\n  }\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n")


def test_latin1_auth_pass_is_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "k.conf"
    path.write_bytes(LATIN1_AUTH)
    r = load(str(path), interfaces=NS_INTERFACES)
    assert r.exit_code == 0 and r.config is not None
    auth = r.config.vrrp_instances[0].authentication
    assert auth is not None and auth.auth_pass == b"a\xe9b"  # what keepalived puts in the advert


def test_fifo_line_and_to_bytes_give_back_the_file_bytes() -> None:
    name = b"V\xe9".decode("utf-8", "surrogateescape")
    assert fifo_line(Notify("INSTANCE", name, "MASTER", 100)) == b'INSTANCE "V\xe9" MASTER 100\n'
    assert to_bytes("a\udce9\u00e9\ud800") == b"a\xe9\xc3\xa9?"  # escaped byte, real UTF-8, unpaired surrogate


@pytest.mark.parametrize("args", [("-t", "{log}"), ("-d",), ("-t", "{log}", "-d")], ids=["t-logfile", "d", "t-d"])
def test_cli_writes_non_utf8_bytes_without_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = tmp_path / "k.conf"
    path.write_bytes(b"vrrp_instance V\xe9 {\n  interface eth9\n  virtual_router_id 5\n  virtual_ipaddress {\n"
                     b"    10.0.0.1\n  }\n}\n" + LATIN1_AUTH.replace(b"VI_1", b"W\xe9").replace(b"id 5", b"id 6"))
    log = tmp_path / "t.log"
    env = dict(os.environ, PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8")
    p = subprocess.run([*PY, *(a.format(log=log) for a in args), "-f", str(path)], capture_output=True, env=env,
                       timeout=60)
    assert b"Traceback" not in p.stderr and b"internal error" not in p.stderr, p.stderr.decode(errors="replace")
    written = p.stdout + p.stderr + (log.read_bytes() if log.exists() else b"")
    assert b"V\xe9" in written


@pytest.fixture
def own_netns() -> Iterator[Netns]:
    """A private namespace with lo and eth0 (a veth, both ends up, 192.0.2.1/24 on eth0)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    with private_netns("cfgh") as name:
        for cmd in (["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                    ["link", "set", "eth0", "up"], ["link", "set", "eth0p", "up"],
                    ["addr", "add", "192.0.2.1/24", "dev", "eth0"]):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield Netns(name)


@pytest.mark.privileged
def test_latin1_instance_name_with_notify_fifo_reaches_master(own_netns: Netns, tmp_path: Path) -> None:
    """The VRRP child crashed on the FIFO line (exit 70, restarted, never MASTER)."""
    netns = own_netns
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "k.conf").write_bytes(
        f"global_defs {{\n  notify_fifo {fifo}\n}}\n".encode() +
        b"vrrp_instance V\xe9 {\n  interface eth0\n  virtual_router_id 57\n  priority 200\n  advert_int 1\n"
        b"  virtual_ipaddress {\n    192.0.2.57/32\n  }\n}\n")
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, out = _run_daemon_until(netns, tmp_path, fd, b'INSTANCE "V\xe9" MASTER 200\n')
    finally:
        os.close(fd)
    assert code is None, out  # still running when MASTER was seen (not crash-looping)
    assert "Traceback" not in out and "exited with status" not in out, out


def _run_daemon_until(netns: Netns, tmp: Path, fd: int, want: bytes) -> tuple[int | None, str]:
    cmd = ["ip", "netns", "exec", netns.name, *PY, "-n", "-l", "-D", "-P", "-f", str(tmp / "k.conf"),
           "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    got = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and want not in got and p.poll() is None:
            time.sleep(0.2)
            try:
                got += os.read(fd, 4096)
            except BlockingIOError:
                pass
        code = p.poll()
        assert want in got, got
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=20)
    return code, out.decode(errors="replace")


# ---- item 4: more VIPs than an advert holds --------------------------------------------------------

def _evip_message(text: str) -> str | None:
    for line in text.splitlines():
        if "exceeds maximum/space available in packet" in line:
            return line[line.index("(VI_1)"):]
    return None


@pytest.mark.parametrize(("family", "version", "ah", "mtu", "most"),
                         [("inet", 2, False, 1500, 255), ("inet", 3, False, 1500, 255), ("inet6", 3, False, 1500, 89),
                          ("inet6", 3, False, 1280, 76), ("inet", 2, True, 1500, 255), ("inet", 2, True, 1000, 231),
                          ("inet", 3, False, 1000, 239), ("inet6", 3, False, 68, 0)])
def test_max_advert_addresses_is_keepalived_rule(family: str, version: int, ah: bool, mtu: int, most: int) -> None:
    from pykeepalived.config.complete import max_advert_addresses
    assert max_advert_addresses(family, version, ah, mtu) == most


@pytest.mark.parametrize("seed", range(4))
def test_excess_vips_move_to_evips(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for k in range(10):
        text, n = vip_count_config(rng)
        path = tmp_path / f"v{k}.conf"
        path.write_text(text)
        r = load(str(path), interfaces=NS_INTERFACES)
        assert r.config is not None
        vi = r.config.vrrp_instances[0]
        limit = 89 if vi.effective.family == "inet6" else 255
        configured = [ln.strip() for ln in text.split("virtual_ipaddress {")[1].split("}")[0].split("\n") if ln.strip()]
        got = [str(a.address.ip) for a in vi.virtual_ipaddress]
        excluded = [str(a.address.ip) for a in vi.virtual_ipaddress_excluded]
        assert got == configured[:limit]
        assert [e for e in excluded if e != "192.0.2.9"] == configured[limit:]  # in order, after the configured eVIPs
        msg = _evip_message("\n".join(d.format() for d in r.diagnostics))
        assert (msg is not None) == (n > limit)
        assert (r.exit_code == 5) == (n > limit), [d.format() for d in r.diagnostics]


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("seed", range(2))
def test_excess_vips_same_exit_and_message_as_keepalived(netns: Netns, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    mismatches = []
    for k in range(12):
        text, _n = vip_count_config(rng)
        path = tmp_path / f"v{k}.conf"
        path.write_text(text)
        real, out = netns.keepalived_t(path)
        ours, our_out = netns.ours_t(path)
        if (ours, _evip_message(our_out)) != (real, _evip_message(out)):
            mismatches.append(f"v{k}: keepalived {real} {_evip_message(out)}\nours {ours} {_evip_message(our_out)}")
    assert not mismatches, "\n".join(mismatches[:3])


@pytest.mark.privileged
@pytest.mark.interop
def test_100000_vips_t_reports_like_keepalived(netns: Netns, tmp_path: Path) -> None:
    path = tmp_path / "big.conf"
    path.write_text("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n"
                    + "".join(f"    10.{i >> 16}.{(i >> 8) & 255}.{i & 255}\n" for i in range(1, 100001)) + "  }\n}\n")
    real, out = netns.keepalived_t(path)
    ours, our_out = netns.ours_t(path)
    assert real == 5 and ours == 5, our_out[-2000:]
    assert _evip_message(our_out) == _evip_message(out) == (
        "(VI_1) Number of VIPs (100000) exceeds maximum/space available in packet (max 255 addresses) - excess "
        "moved to eVIPs")


# ---- item 7: include loops and depth --------------------------------------------------------------

def _write_tree(tmp: Path, files: dict[str, str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp / name).write_text(text)
    return tmp / "f0.conf"


@pytest.mark.parametrize("files", [{"f0.conf": "include f0.conf\n"},
                                   {"f0.conf": "include f1.conf\n", "f1.conf": "include f0.conf\n"},
                                   {"f0.conf": "include *.conf\n", "f1.conf": "global_defs {\n  router_id x\n}\n"}],
                         ids=["self", "two-file-loop", "glob-matching-itself"])
def test_include_loop_is_an_error_naming_the_line(tmp_path: Path, files: dict[str, str]) -> None:
    main = _write_tree(tmp_path, files)
    r = load(str(main), interfaces=NS_INTERFACES)  # was RecursionError (-t: "internal error", exit 4)
    loops = [d for d in r.diagnostics if "include loop" in d.message]
    assert loops and loops[0].line == 1 and r.exit_code == 5, [d.format() for d in r.diagnostics]
    assert "already being read" in loops[0].format()


def test_include_chain_deeper_than_the_recursion_limit_is_read(tmp_path: Path) -> None:
    depth = sys.getrecursionlimit() + 200
    files = {f"f{i}.conf": f"include f{i + 1}.conf\n" for i in range(depth)}
    files[f"f{depth}.conf"] = NOIF.replace("{\n", "{\n  interface eth0\n", 1)
    r = load(str(_write_tree(tmp_path, files)), interfaces=NS_INTERFACES)
    assert r.exit_code == 0, [d.format() for d in r.diagnostics][:5]
    assert r.config is not None and [v.name for v in r.config.vrrp_instances] == ["VI_1"]


def test_include_depth_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pykeepalived.config import lexer
    monkeypatch.setattr(lexer, "MAX_INCLUDE_DEPTH", 50)
    files = {f"f{i}.conf": f"include f{i + 1}.conf\n" for i in range(60)}
    files["f60.conf"] = "global_defs {\n  router_id deep\n}\n"
    r = load(str(_write_tree(tmp_path, files)), interfaces=NS_INTERFACES)
    errs = [d for d in r.diagnostics if d.level]
    assert r.exit_code == 5 and len(errs) == 1, [d.format() for d in r.diagnostics]
    assert errs[0].file is not None and errs[0].file.endswith("/f49.conf") and errs[0].line == 1
    assert "nested deeper than 50 includes" in errs[0].message


@pytest.mark.parametrize("seed", range(40))
def test_generated_include_graphs_never_crash(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    cyclic = seed % 2 == 1
    files = include_graph(rng, cyclic=cyclic)
    t0 = time.monotonic()
    r = load(str(_write_tree(tmp_path, files)), interfaces=NS_INTERFACES)
    assert time.monotonic() - t0 < 20
    loops = [d for d in r.diagnostics if "include loop" in d.message]
    assert cyclic or not loops, [d.format() for d in r.diagnostics]  # (a back edge may be unreachable)
    for d in loops:
        assert d.level and d.file is not None and d.line is not None


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("seed", range(2))
def test_generated_acyclic_include_graphs_same_as_keepalived(netns: Netns, tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    mismatches = []
    for k in range(15):
        files = include_graph(rng, cyclic=False)
        main = _write_tree(tmp_path / f"g{k}", files)
        real, out = netns.keepalived_t(main)
        ours = load(str(main), interfaces=frozenset({"lo", "eth0", "eth0p"}))
        if ours.exit_code != real:
            mismatches.append(f"g{k}: keepalived {real} ours {ours.exit_code}\n{files}\n{out}\n"
                              f"{[d.format() for d in ours.diagnostics]}")
    assert not mismatches, "\n".join(mismatches[:2])


# ---- item 10: pathological macros ---------------------------------------------------------------------

NESTED_SEQ = "~SEQ(i, 1, 100000) ~SEQ(j, 1, 100000) bogus $i $j\n"
SELF_DOUBLING = "$D=bogus \\\n$D \\\n$D\nglobal_defs {\n$D\n}\n"


@pytest.mark.parametrize(("text", "line", "what"), [(NESTED_SEQ, 1, "produced more than 2000 lines"),
                                                    (SELF_DOUBLING, 5, "nested deeper than 100 levels")],
                         ids=["nested-seq", "self-doubling-definition"])
def test_runaway_expansion_stops_with_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int,
                                              what: str) -> None:
    from pykeepalived.config import lexer
    monkeypatch.setattr(lexer, "MAX_EXPANDED_LINES", 2000, raising=False)
    path = tmp_path / "k.conf"
    path.write_text(text)
    r = load(str(path), interfaces=NS_INTERFACES)  # was: grew without end (390-480 MB in 15 s)
    assert r.exit_code == 5 and r.config is None
    errs = [d for d in r.diagnostics if "expansion" in d.message]
    assert len(errs) == 1 and (errs[0].file, errs[0].line) == (str(path), line), [d.format() for d in r.diagnostics]
    assert what in errs[0].message


@pytest.mark.parametrize("text", [NESTED_SEQ, SELF_DOUBLING], ids=["nested-seq", "self-doubling-definition"])
def test_runaway_expansion_bounded_in_time_and_memory(tmp_path: Path, text: str) -> None:
    """The real bounds, in a child limited to 1 GB of address space: -t ends with exit 5."""
    path = tmp_path / "k.conf"
    path.write_text(text)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from pykeepalived.cli import main; sys.argv = ['pykeepalived', '-t', '-f', sys.argv[1]]; "
            "raise SystemExit(main())")
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 5, p.stderr[-2000:]
    assert "expansion" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("seed", range(60))
def test_generated_macros_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    from pykeepalived.config import lexer
    monkeypatch.setattr(lexer, "MAX_EXPANDED_LINES", 5000, raising=False)
    path = tmp_path / "k.conf"
    path.write_text(gen_macro(random.Random(seed)))
    t0 = time.monotonic()
    r = load(str(path), interfaces=NS_INTERFACES)
    assert time.monotonic() - t0 < 30
    assert r.exit_code in (0, 5), [d.format() for d in r.diagnostics][:5]
