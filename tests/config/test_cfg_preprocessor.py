"""The preprocessor: a fixture tree using every feature together, checked against the expected
model and against what the real keepalived 2.2.7 parsed (its -d dump), plus unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cfg_netns import NS_INTERFACES, Netns

from pykeepalived.config import load, load_text
from pykeepalived.config.lexer import (
    BraceError,
    Preprocessor,
    brace_expand,
    decomment,
    split_script,
    split_words,
)

TREE = Path(__file__).parent / "fixtures" / "tree"

# name -> (wanted state, vrid, priority, advert_int, version, VIPs), as keepalived 2.2.7 -d shows them
EXPECTED = {
    "VC": ("MASTER", 101, 255, 1.0, 2, ["192.168.60.1/24"]),
    "VB": ("MASTER", 100, 255, 3.0, 2, ["192.168.50.1/24"]),
    "VI_1": ("BACKUP", 1, 150, 1.0, 2, ["10.1.1.1/24", "10.1.1.2/24"]),
    "VI_2": ("BACKUP", 2, 150, 1.0, 2, ["10.1.2.1/24", "10.1.2.2/24"]),
    "VI_3": ("BACKUP", 3, 150, 1.0, 2, ["10.1.3.1/24", "10.1.3.2/24"]),
    "VH_10": ("BACKUP", 10, 100, 1.0, 3, ["fd00::10/64"]),
    "VH_12": ("BACKUP", 12, 100, 1.0, 3, ["fd00::12/64"]),
    "VH_14": ("BACKUP", 14, 100, 1.0, 3, ["fd00::14/64"]),
}


def summary(path: Path, config_id: str) -> dict[str, tuple[str, int, int, float, int, list[str]]]:
    r = load(str(path), config_id=config_id, interfaces=NS_INTERFACES)
    assert r.config is not None
    assert r.exit_code == 0, [d.format() for d in r.diagnostics]
    return {v.name: (v.effective.state, v.virtual_router_id, v.effective.priority, v.effective.advert_int,
                     v.effective.version, [str(a.address) for a in v.virtual_ipaddress])
            for v in r.config.vrrp_instances}


def test_fixture_tree_model() -> None:
    got = summary(TREE / "main.conf", "lb1")
    assert list(got) == list(EXPECTED)  # include order: c.inc (via a.inc), b.inc, then the sequences
    assert got == EXPECTED
    r = load(str(TREE / "main.conf"), config_id="lb1", interfaces=NS_INTERFACES)
    assert r.config is not None
    g = r.config.global_defs
    assert g.router_id == "fixture#1"  # \# escape, then "! trailing comment" removed
    assert g.notification_email_from == "ops#1@example.com"  # '#' inside quotes is not a comment
    assert g.vrrp_garp_master_delay == 3.0
    vb = r.config.vrrp_instance("VB")
    assert vb is not None and vb.notify is not None
    assert vb.notify.args == ("/nonexistent/notify.sh", "quoted arg", "single q", "tab", "here")
    # every node keeps its original file and line, through includes and expansions
    assert vb.pos.file.endswith("tree/b.inc") and vb.pos.line == 1
    vc = r.config.vrrp_instance("VC")
    assert vc is not None and vc.pos.file.endswith("tree/sub/c.inc") and vc.pos.line == 2
    vi2 = r.config.vrrp_instance("VI_2")
    assert vi2 is not None and vi2.pos.file.endswith("main.conf") and vi2.pos.line == 28
    assert {f.rsplit("/", 1)[-1] for f in r.config.files} == {"main.conf", "10-if.conf", "20-hex.conf", "a.inc",
                                                               "b.inc", "c.inc"}


def test_fixture_tree_other_config_id() -> None:
    got = summary(TREE / "main.conf", "lb9")
    assert got["VI_1"][2] == 50  # @^lb1 line used
    assert got["VB"][3] == 9.0


# ---- unit tests of the pieces --------------------------------------------------------------


@pytest.mark.parametrize(("raw", "text"), [
    ("a # b", "a"), ("a ! b", "a"), ("a \\# b", "a # b"), ("a \\! b", "a ! b"), ('"x # y" z # c', '"x # y" z'),
    ("  lead and trail  ", "lead and trail"), ("x \\", "x\\"), ("#only", ""),
])
def test_decomment(raw: str, text: str) -> None:
    assert decomment(raw) == (text, False)


def test_decomment_open_quote() -> None:
    assert decomment('a "b') == ('a "b', True)


def test_split_words_and_script() -> None:
    assert split_words('a "b c" d') == ["a", "b c", "d"]
    assert split_script("abcd\" efg h jkl \"mnop") == ["abcd efg h jkl mnop"]
    assert split_script(r"'a b' \x41\101\t\cA\q") == ["a b", "AA\t\x01q"]
    assert split_script(r"x\Ey\ab\b\f\n\r\v") == ["x\x1by\x07b\b\f\n\r\v"]


def test_brace_expand() -> None:
    assert brace_expand("a{b,c{d,e}}f") == ["abf", "acdf", "acef"]
    assert brace_expand("x{y}z") == ["x{y}z"]


def test_brace_expand_is_bounded(tmp_path: Path) -> None:
    """`{a,b}` n times is 2**n names: 30 times (150 bytes of include) took all memory and hours
    (seen profiling fuzz/fuzz_lexer.py). Past MAX_BRACE_NAMES the include is refused with an error."""
    assert len(brace_expand("{a,b}" * 13)) == 8192
    with pytest.raises(BraceError):
        brace_expand("{a,b}" * 14)
    (tmp_path / "a").write_text("kept\n")
    p = Preprocessor(config_id="host1", environ={})
    lines = p.read_text(f"include {tmp_path}/{'{a,b}' * 30}\ninclude {tmp_path}/{{a,b}}\nafter\n")
    assert [ln.text for ln in lines] == ["kept", "after"]
    target = f"{tmp_path}/{'{a,b}' * 30}"
    assert [d.message for d in p.diagnostics if "more than" in d.message] == [
        f"Brace pattern expands to more than 10000 names: '{target[:80]}' - skipping"]


def pre_lines(text: str, **kw: object) -> list[str]:
    p = Preprocessor(config_id="host1", environ={"FOO": "bar"}, **kw)  # type: ignore[arg-type]
    return [ln.text for ln in p.read_text(text)]


def test_include_check_with_an_empty_word() -> None:
    """`include_check ""`: the empty word was taken for a +/- sign (`"" in "+-"` is true) and
    the reader raised IndexError (fuzz_lexer run 5, 2026-12-07). It is an unknown type."""
    p = Preprocessor(config_id="host1", environ={})
    lines = p.read_text('global_defs {\n include_check "" +match ""\n}\n')
    assert [ln.text for ln in lines] == ["global_defs", "{", 'include_check "" +match ""', "}"]
    assert [d.message for d in p.diagnostics] == ["Unknown include_check type ''"] * 2
    assert p._checks == "m"


@pytest.mark.timeout(60)
def test_definition_brought_back_by_a_comment_stops() -> None:
    """The substituted line is decommented and substituted again (keepalived's recheck loop):
    `$X${_HASH}` gives `$X#`, decommented back to `$X`, and the reader spun for ever (a fuzz_lexer
    timeout, 2026-12-07; also with a multi-line definition, which grew memory on each round).
    keepalived 2.2.7 spins too; we stop as for `$A=$A`."""
    p = Preprocessor(config_id="host1", environ={})
    lines = p.read_text("$X=$X${_HASH}\n$X\nafter\n")
    assert [ln.text for ln in lines] == ["$X", "after"]
    assert [d.message for d in p.diagnostics] == ["Recursive definition on line '$X' - stopped expanding"]
    p = Preprocessor(config_id="host1", environ={})
    lines = p.read_text("$IN= \\\n$IN ${_HASH}\\\nlast\n$IN\nafter\n")
    assert [ln.text for ln in lines] == ["$IN"]  # each round stacked the definition's next line:
    assert p.fatal_exit == 5                      # those stop the read as a runaway expansion
    assert [d.message[:40] for d in p.diagnostics] == ["Recursive definition on line '$IN' - sto",
                                                      "~SEQ/~LST and multi-line definition expa"]


def test_definition_termination_rules() -> None:
    src = "$i=5\nA $i\nB $i,x\nC ($i)\nD $i/24\nE ${i}/24\nF x$i\nG $UNDEF\n"
    assert pre_lines(src) == ["A 5", "B 5,x", "C (5)", "D $i/24", "E 5/24", "F x5", "G $UNDEF"]


def test_definitions_are_recursive_and_evaluated_at_use() -> None:
    src = "$A=$B!\n$B=one\nx $A\n$B=two\ny $A\n"
    # '!' after the value is a comment (decommented before definition)
    assert pre_lines(src) == ["x one", "y two"]


def test_builtins() -> None:
    lines = pre_lines("a ${_INSTANCE}\nb ${_ENV FOO}\nc ${_HASH}${_BANG}\nd ${_RANDOM 5 5}\ne ${_PWD}\n")
    assert lines[:4] == ["a host1", "b bar", "c", "d 5"]  # c: the substituted line is decommented again
    assert lines[4] == "e " + os.getcwd()


def test_random_range() -> None:
    for line in pre_lines("~SEQ(i, 1, 50) r ${_RANDOM 3 7}\n"):
        assert 3 <= int(line.split()[1]) <= 7


def test_random_seed_makes_random_repeatable() -> None:
    src = "global_defs {\n  random_seed 42\n}\n~SEQ(i, 1, 5) r ${_RANDOM}\n"
    first, second = pre_lines(src), pre_lines(src)
    assert first == second and len(set(first[4:])) > 1


def test_conditionals() -> None:
    assert pre_lines("@host1 yes\n@other no\n@^other also\n@^host1 never\n@host1\n") == ["yes", "also"]


def test_seq_forms_and_nesting() -> None:
    assert pre_lines("~SEQ(i, 3) v$i\n") == ["v1", "v2", "v3"]
    assert pre_lines("~SEQ(i, 5, 3) v$i\n") == ["v5", "v4", "v3"]
    assert pre_lines("~SEQ(i, 0, 5, 10) v$i\n") == ["v0", "v5", "v10"]
    assert pre_lines("~SEQx(i, 9, 11) v$i\n") == ["v9", "va", "vb"]
    assert pre_lines("$N=2\n~SEQ(i, 1, $N) ~SEQ(j, 1, 2) ${i}.$j\n") == ["1.1", "1.2", "2.1", "2.2"]


def test_lst_forms() -> None:
    assert pre_lines("~LST(v, a, b) x $v\n") == ["x a", "x b"]
    assert pre_lines("~LST({a,b}, {1,2}, {3}) ${a}-$b\n") == ["1-2", "3-"]
    assert pre_lines("~LST(v, p, q) ~SEQ(i, 1, 2) ${v}$i\n") == ["p1", "p2", "q1", "q2"]


def test_multiline_definition_expansion_and_nesting() -> None:
    src = "$IN=inner1 \\\ninner2\n$OUT=first \\\n$IN \\\nlast\n~SEQ(i, 1, 2) $OUT\n"
    assert pre_lines(src) == ["first", "inner1", "inner2", "last"] * 2


def test_backslash_is_no_continuation_outside_definitions() -> None:
    assert pre_lines("a 3\\\nb\n") == ["a 3\\", "b"]


def test_braces_split_into_lines() -> None:
    assert pre_lines('k x { a 1 } y "q{}" {\n}\n') == ["k x", "{", "a 1", "}", 'y "q{}"', "{", "}"]


def test_line_too_long_and_nul() -> None:
    r = load_text("global_defs {\n  router_id " + "a" * 1100 + "\n}\n", interfaces=NS_INTERFACES)
    assert r.exit_code == 5
    assert any(d.line == 2 and "too long" in d.message for d in r.diagnostics)
    r = load_text("global_defs {\n  router_id ab\0cd\n}\n", interfaces=NS_INTERFACES)
    assert r.exit_code == 5 and r.config is not None
    assert r.config.global_defs.router_id == "ab"
    assert any(d.line == 2 and "NUL" in d.message for d in r.diagnostics)


def test_missing_main_file(tmp_path: Path) -> None:
    r = load(str(tmp_path / "nope.conf"))
    assert r.exit_code == 0  # keepalived 2.2.7 without -e
    r = load(str(tmp_path / "nope.conf"), all_config=True)
    assert r.exit_code == 4 and r.config is None


def test_missing_include(tmp_path: Path) -> None:
    main = tmp_path / "k.conf"
    main.write_text("include missing.conf\nglobal_defs {\n  router_id r\n}\n")
    r = load(str(main))
    assert r.exit_code == 0 and r.config is not None and r.config.global_defs.router_id == "r"
    assert any("Config files missing 'missing.conf'" in d.message and d.line == 1 for d in r.diagnostics)
    assert load(str(main), all_config=True).exit_code == 6
    main.write_text("global_defs {\n  include_check\n}\ninclude missing.conf\n")
    assert load(str(main)).exit_code == 6
    main.write_text("includer missing.conf\n")
    assert load(str(main)).exit_code == 6
    main.write_text("includem none*.conf\n")
    assert load(str(main)).exit_code == 6
    main.write_text("global_defs {\n  include_check -match\n}\ninclude none*.conf\n")
    assert load(str(main)).exit_code == 0


def test_include_skips_directories_and_executables(tmp_path: Path) -> None:
    (tmp_path / "d.conf").mkdir()
    exe = tmp_path / "x.conf"
    exe.write_text("garbage_keyword\n")
    exe.chmod(0o755)
    ok = tmp_path / "y.conf"
    ok.write_text("global_defs {\n  router_id fromy\n}\n")
    main = tmp_path / "main"
    main.write_text("include *.conf\n")
    r = load(str(main))
    assert r.config is not None and r.config.global_defs.router_id == "fromy"
    assert r.exit_code == 0


def test_recursive_definition_is_reported_not_hung() -> None:
    r = load_text("$A=$B\n$B=$A\nglobal_defs {\n  router_id $A\n}\n", interfaces=NS_INTERFACES)
    assert r.exit_code == 5
    assert any("Recursive" in d.message or "maximum line length" in d.message for d in r.diagnostics)




INCLUDE_CASES = [
    ("missing_include", "include missing.conf\nglobal_defs {\n  router_id r\n}\n", ()),
    ("missing_include_all_config", "include missing.conf\n", ("-e",)),
    ("include_check_on", "global_defs {\n  include_check\n}\ninclude missing.conf\n", ()),
    ("include_check_outside_global_defs", "include_check\ninclude missing.conf\n", ()),
    ("include_check_readable_doc_bug", "global_defs {\n  include_check readable\n}\n", ()),
    ("conditional_include", "@nohost include sub.conf\n", ()),
    ("parameterised_include", "$F=sub.conf\ninclude $F\n", ()),
    ("glob_include", "include s*.conf\n", ()),
    ("brace_include", "include {sub,missing}.conf\n", ()),
]


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize(("cid", "text", "args"), INCLUDE_CASES, ids=[c[0] for c in INCLUDE_CASES])
def test_include_behaviour_same_exit_as_keepalived(netns: Netns, tmp_path: Path, cid: str, text: str,
                                                   args: tuple[str, ...]) -> None:
    (tmp_path / "sub.conf").write_text("global_defs {\n  bogus_in_sub\n}\n")
    main = tmp_path / "main.conf"
    main.write_text(text)
    real, out = netns.keepalived_t(main, *args)
    ours = load(str(main), all_config="-e" in args, interfaces=NS_INTERFACES)
    assert ours.exit_code == real, f"keepalived: {out}\nours: {[d.format() for d in ours.diagnostics]}"


@pytest.mark.privileged
@pytest.mark.interop
def test_missing_main_file_exits_like_keepalived_except_plain_t(netns: Netns, tmp_path: Path) -> None:
    """`-t` on a missing file: keepalived 2.2.7 exits 0 (its issue 955: a CI gate passes on a
    typo); ours exits 6 naming the file, a deliberate difference (README). With `-e` both exit
    alike."""
    real, _ = netns.keepalived_t(tmp_path / "nope.conf")
    ours, out = netns.ours_t(tmp_path / "nope.conf")
    assert (real, ours) == (0, 6), out
    assert "nope.conf" in out
    real, _ = netns.keepalived_t(tmp_path / "nope.conf", "-e")
    ours, _ = netns.ours_t(tmp_path / "nope.conf", "-e")
    assert ours == real
