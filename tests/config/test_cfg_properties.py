"""Property tests: no input makes the loader raise; dump -> parse gives the same model."""

from __future__ import annotations

import dataclasses
import string
import tempfile
from pathlib import Path

from cfg_netns import NS_INTERFACES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pykeepalived.config import load, load_text
from pykeepalived.config.dump import dump_config
from pykeepalived.config.lexer import Preprocessor
from pykeepalived.config.reload import strip_pos

EXIT_CODES = {0, 2, 4, 5, 6}
_DIR = tempfile.mkdtemp(prefix="cfgprop")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    path = Path(_DIR) / "fuzz.conf"
    path.write_bytes(data)
    r = load(str(path), interfaces=NS_INTERFACES)
    assert r.exit_code in EXIT_CODES
    for d in r.diagnostics:
        assert isinstance(d.format(), str)


WORDS = ["global_defs", "vrrp_instance", "virtual_server", "real_server", "TCP_CHECK", "HTTP_GET", "url", "path",
         "virtual_ipaddress", "track_script", "vrrp_script", "script", "priority", "state", "MASTER", "BACKUP",
         "interface", "eth0", "virtual_router_id", "advert_int", "10.0.0.1/24", "10.0.0.1", "80", "{", "}", "\"",
         "'", "#", "!", "\\", "$X", "$X=", "${X}", "@vm", "@^vm", "~SEQ(i,1,3)", "~LST(v,a,b)", "$i", "include",
         "1", "0", "-1", "255", "300", "1.5", "nopreempt", "unicast_peer", "virtual_routes", "via", "dev",
         "src", "table", "static_rules", "from", "to", "notify", "\"/bin/x a\"", "weight", "sorry_server",
         "virtual_server_group", "fwmark", "10.0.0.1-5", "SSL", "bfd_instance", "authentication", "auth_type",
         "PASS", "AH", "use_vmac", "version", "3", "fd00::1/64", "garp_group", "interfaces", "track_file",
         "vrrp_sync_group", "group", "net_namespace", "include_check", "${_RANDOM 1 2}", "${_ENV HOME}"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS) | st.text(string.printable, max_size=8), max_size=8),
                max_size=60))
def test_keyword_soup_never_raises(lines: list[list[str]]) -> None:
    text = "\n".join(" ".join(words) for words in lines)
    if "include" in text:  # an include of a random glob could read unrelated files
        text = text.replace("include", "inclde")
    r = load_text(text, interfaces=NS_INTERFACES)
    assert r.exit_code in EXIT_CODES


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_preprocessor_never_raises(text: str) -> None:
    text = text.replace("include", "inclde")
    Preprocessor(config_id="x", environ={}).read_text(text)


# ---- dump -> parse round trip ------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
script_args = st.lists(st.text(string.ascii_letters + string.digits + " '\"#!$\\{}", min_size=1, max_size=6),
                       min_size=0, max_size=3)


@st.composite
def script_cmd(draw: st.DrawFn) -> str:
    args = draw(script_args)
    parts = ["/usr/local/bin/x"] + ["'" + a.replace("'", "") + "'" for a in args if a.replace("'", "")]
    return " ".join(parts)


def _quote_cmd(cmd: str) -> str:
    return '"' + cmd.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def instance(draw: st.DrawFn, idx: int) -> str:
    v6 = draw(st.booleans())
    lines = [f"vrrp_instance VI_{idx} {{", "    interface eth0", f"    virtual_router_id {idx + 1}"]
    if draw(st.booleans()):
        lines.append(f"    state {draw(st.sampled_from(['MASTER', 'BACKUP']))}")
    if draw(st.booleans()):
        lines.append(f"    priority {draw(st.integers(1, 255))}")
    if draw(st.booleans()):
        if v6:
            lines.append(f"    advert_int {draw(st.integers(1, 4095)) / 100}")
        else:
            lines.append(f"    advert_int {draw(st.integers(1, 255))}")
    if draw(st.booleans()):
        lines.append("    nopreempt")
    if draw(st.booleans()):
        lines.append(f"    garp_master_delay {draw(st.integers(0, 100))}")
    if draw(st.booleans()):
        lines.append(f"    notify_master {_quote_cmd(draw(script_cmd()))}")
    if draw(st.booleans()):
        lines.append(f"    smtp_alert {draw(st.sampled_from(['true', 'false']))}")
    nvip = draw(st.integers(1, 3))
    lines.append("    virtual_ipaddress {")
    for k in range(nvip):
        if v6:
            lines.append(f"        fd00:{idx:x}::{k + 1}/64")
        else:
            lines.append(f"        10.{idx}.{k}.1/{draw(st.integers(8, 32))}")
    lines.append("    }")
    if draw(st.booleans()):
        lines.append("    track_script {")
        lines.append(f"        chk weight {draw(st.integers(-253, 253))}")
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines)


@st.composite
def config_text(draw: st.DrawFn) -> str:
    parts = ["global_defs {", "    enable_script_security",
             f"    router_id {draw(names)}",
             f"    vrrp_garp_master_repeat {draw(st.integers(0, 50))}",
             f"    vrrp_version {draw(st.sampled_from([2, 3]))}",
             "}",
             "vrrp_script chk {", f"    script {_quote_cmd(draw(script_cmd()))}",
             f"    interval {draw(st.integers(1, 60))}", f"    fall {draw(st.integers(1, 5))}", "}"]
    for i in range(draw(st.integers(0, 4))):
        parts.append(draw(instance(i)))
    for v in range(draw(st.integers(0, 2))):
        parts += [f"virtual_server 192.168.{v}.1 {draw(st.integers(1, 65535))} {{",
                  f"    lb_algo {draw(st.sampled_from(['rr', 'wrr', 'wlc']))}",
                  f"    delay_loop {draw(st.integers(1, 100))}"]
        for r in range(draw(st.integers(0, 3))):
            parts += [f"    real_server 192.168.{v}.{r + 10} 80 {{", f"        weight {draw(st.integers(0, 100))}",
                      f"        {draw(st.sampled_from(['TCP_CHECK', 'PING_CHECK']))} {{",
                      f"            connect_timeout {draw(st.integers(1, 10))}", "        }", "    }"]
        parts.append("}")
    return "\n".join(parts) + "\n"


def comparable(cfg: object) -> object:
    return dataclasses.replace(strip_pos(cfg), files=())  # type: ignore[type-var]


@settings(max_examples=150, deadline=None)
@given(config_text())
def test_dump_parse_round_trip(text: str) -> None:
    first = load_text(text, interfaces=NS_INTERFACES)
    assert first.config is not None, [d.format() for d in first.diagnostics]
    dumped = dump_config(first.config)
    second = load_text(dumped, interfaces=NS_INTERFACES)
    assert second.config is not None
    assert comparable(second.config) == comparable(first.config), dumped
    assert dump_config(second.config) == dumped
