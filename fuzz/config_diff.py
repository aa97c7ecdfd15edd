#!/usr/bin/env python3
"""Differential config fuzzer: keepalived 2.2.7 `-t` against ours (issue 16 items 1-2).

    sudo nice -n 10 .venv/bin/python fuzz/config_diff.py --count 5000 --seed 1 --record /tmp/runs.jsonl
    .venv/bin/python fuzz/config_diff.py --extract /path/to/keepalived.git   # regenerate the keyword table

Each case (tests/config/cfg_kadiff.py: keywords of every block of keepalived's own parser tables
with valid/boundary/out-of-range/wrong-type/missing/extra/duplicated/over-long values, misplaced
keywords and blocks, preprocessor constructs, mutated shipped samples) is written to a fresh
directory and checked by the real keepalived in a private namespace with lo and eth0 (plus eth0's
veth peer eth0p) and by ours in-process (`load()` with that interface set and the same
environment and config-id). Compared: the exit code, and the (file, line) of the first message
that names one. One case in --cli-every is also run through `python -m pykeepalived -t` in the
namespace, which must agree with the in-process result (exit code and first located line).
Every check has a 10 s budget: a run over it is reported as a hang."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "config"), str(ROOT / "tests"), str(ROOT / "src")]

import cfg_kadiff as K  # noqa: E402

# ---- extraction of keepalived's keyword table -----------------------------------------------------

# Features of Debian's keepalived 2.2.7 build (`keepalived -v`: Config options / System options)
DEFINED = {"_WITH_LVS_", "_WITH_VRRP_", "_WITH_VRRP_AUTH_", "_HAVE_VRRP_VMAC_", "_WITH_JSON_", "_WITH_BFD_",
           "_WITH_REGEX_CHECK_", "_WITH_NFTABLES_", "_WITH_FIREWALL_", "_WITH_UNICAST_CHKSUM_COMPAT_", "_WITH_SNMP_",
           "_WITH_SNMP_VRRP_", "_WITH_SNMP_CHECKER_", "_WITH_SNMP_RFC_", "_WITH_SNMP_RFCV2_", "_WITH_SNMP_RFCV3_",
           "_WITH_SNMP_V3_FOR_V2_", "_WITH_DBUS_", "_HAVE_VRRP_IPVLAN_", "_HAVE_VRF_", "_WITH_SO_MARK_",
           "_HAVE_IPVS_TUN_TYPE_", "_HAVE_IPVS_TUN_CSUM_", "_HAVE_IPVS_TUN_GRE_", "_HAVE_SSL_SET_TLSEXT_HOST_NAME_",
           "IP_VS_SVC_F_SCHED1", "HAVE_DECL_IPVS_DEST_ATTR_ADDR_FAMILY", "_HAVE_IPVS_SYNCD_ATTRIBUTES_",
           "IPVLAN_F_VEPA", "IPVLAN_F_PRIVATE", "LIBIPVS_USE_NL", "PCRE2_DONT_USE_JIT_x"}
PARSER_FILES = ["keepalived/core/global_parser.c", "keepalived/vrrp/vrrp_parser.c", "keepalived/check/check_parser.c",
                "keepalived/check/check_api.c", "keepalived/check/check_http.c", "keepalived/check/check_tcp.c",
                "keepalived/check/check_udp.c", "keepalived/check/check_smtp.c", "keepalived/check/check_misc.c",
                "keepalived/check/check_dns.c", "keepalived/check/check_file.c", "keepalived/check/check_ping.c",
                "keepalived/check/check_bfd.c", "keepalived/bfd/bfd_parser.c", "keepalived/trackers/track_file.c"]
ENTRIES = ["init_global_keywords", "init_vrrp_keywords", "init_check_keywords", "init_bfd_keywords",
           "add_track_file_keywords"]


def _cond(expr: str) -> bool:
    expr = re.sub(r"//.*|/\*.*?\*/", "", expr)
    expr = re.sub(r"defined\s*\(?\s*(\w+)\s*\)?", lambda m: " True " if m.group(1) in DEFINED else " False ", expr)
    expr = re.sub(r"\b(?!True\b|False\b)([A-Za-z_]\w*)\b", lambda m: "1" if m.group(1) in DEFINED else "0", expr)
    expr = expr.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    try:
        return bool(eval(expr, {}))  # noqa: S307 (a preprocessor condition of keepalived's source)
    except Exception:
        return False


def _preprocess(text: str) -> str:
    """The lines of C source that Debian's build compiles (#if/#ifdef/#else/#elif/#endif)."""
    out: list[str] = []
    live, taken = [True], [True]
    for ln in text.splitlines():
        m = re.match(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", ln)
        if not m:
            if live[-1]:
                out.append(ln)
            continue
        d, rest = m.groups()
        if d in ("ifdef", "ifndef", "if"):
            v = (rest.split()[0] in DEFINED) if d == "ifdef" else (rest.split()[0] not in DEFINED) if d == "ifndef" \
                else _cond(rest)
            live.append(live[-1] and v)
            taken.append(v)
        elif d == "elif":
            live.pop()
            v = not taken[-1] and _cond(rest)
            live.append(live[-1] and v)
            taken[-1] = taken[-1] or v
        elif d == "else":
            live.pop()
            live.append(live[-1] and not taken[-1])
            taken[-1] = True
        else:
            live.pop()
            taken.pop()
    return "\n".join(out)


def extract(repo: str, tag: str) -> dict[str, Any]:
    def show(p: str) -> str:
        return subprocess.run(["git", "-C", repo, "show", f"{tag}:{p}"], capture_output=True, text=True,
                              check=True).stdout

    funcs: dict[str, list[tuple[str, str]]] = {}
    for f in PARSER_FILES:
        t = _preprocess(show(f))
        for m in re.finditer(r"^(\w+)\s*\([^)]*\)\s*\n\{(.*?)^\}", t, re.S | re.M):
            calls = re.findall(r"\b(install_\w+|init_\w+_keywords|add_track_file_keywords)\s*\(([^;]*?)\)\s*;",
                               m.group(2))
            if calls:
                funcs[m.group(1)] = calls
    roots: list[dict[str, Any]] = []
    depth = 0

    def run(fn: str, arg: str | None) -> None:
        nonlocal depth
        for c, a in funcs[fn]:
            lit = re.match(r'\s*"([^"]+)"', a)
            name = lit.group(1) if lit else arg
            if c == "install_keyword_root":
                same = [r for r in roots if r["kw"] == name]
                if same:  # bfd_instance: one per process type; the union of their keywords
                    roots.remove(same[0])
                    roots.append(same[0])
                else:
                    roots.append({"kw": name, "sub": []})
                depth = 0
            elif c in ("install_keyword", "install_keyword_conditional"):
                cur = roots[-1]
                for _ in range(depth):
                    cur = cur["sub"][-1]
                if not any(s["kw"] == name for s in cur["sub"]):
                    cur["sub"].append({"kw": name, "sub": []})
            elif c == "install_sublevel":
                depth += 1
            elif c == "install_sublevel_end":
                depth -= 1
            elif c in funcs:
                run(c, name)

    for fn in ENTRIES:
        run(fn, None)
    man = show("doc/man/man5/keepalived.conf.5.in")
    specs: dict[str, list[str]] = defaultdict(list)
    for m in re.finditer(r"^\s*(?:@\^?\w+\s+)?\\fB([A-Za-z_][\w-]*)\s*(?:\\fR)?(.*)$", man, re.M):
        spec = re.sub(r"\\f[BRI]|\\e$|\s+#.*$", "", m.group(2)).strip()
        if spec not in specs[m.group(1)] and "$" not in spec:
            specs[m.group(1)].append(spec)
    return {"source": f"acassen/keepalived {tag}: parser tables of {', '.join(PARSER_FILES)}; "
                      "specs from doc/man/man5/keepalived.conf.5.in", "defined": sorted(DEFINED),
            "roots": roots, "specs": dict(sorted(specs.items()))}


def campaign(args: argparse.Namespace) -> int:
    table = K.Table(K.load_table())
    samples = K.sample_files()
    classes = args.classes.split(",") if args.classes else list(K.CLASSES)
    work = Path(tempfile.mkdtemp(prefix="cfgdiff-"))
    work.chmod(0o755)
    helpers = work / "helpers"
    K.prepare_helpers(samples, helpers)
    record = open(args.record, "a") if args.record else None  # noqa: SIM115
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    t_start = time.monotonic()
    try:
        with K.make_netns("cfgd") as ns:
            for n in range(args.count):
                cls = classes[n % len(classes)]
                rec = K.check_case(ns, table, cls, args.seed * 1_000_003 + n, samples=samples, helpers=helpers,
                                   work=work, cli=bool(args.cli_every) and n % args.cli_every == 0)
                rec["n"] = n
                st = stats[cls]
                st["files"] += 1
                _count(st, rec)
                if "cli" in rec and not rec["cli_ok"]:
                    print(f"in-process != CLI on case {n}: {rec['cli']} vs {rec['ours']} {rec['ours_loc']}",
                          file=sys.stderr)
                if record is not None:
                    record.write(json.dumps(rec) + "\n")
                if args.progress and (n + 1) % args.progress == 0:
                    print(f"{n + 1} files, {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
    finally:
        if record is not None:
            record.close()
        shutil.rmtree(work, ignore_errors=True)
    print_summary(stats)
    return 0


def _count(st: Counter[str], r: dict[str, Any]) -> None:
    st["exit_agree"] += r["exit_ok"]
    st["loc_agree"] += r["loc_ok"]
    st["loc_in"] += r["loc_in"]
    if r["real"] in K.CRASHES:
        st["keepalived_crash"] += 1
    if r["real"] == "hang":
        st["keepalived_hang"] += 1
    if r["ours"] in ("hang", "traceback"):
        st[f"ours_{r['ours']}"] += 1
    if r["ours_s"] > K.BUDGET:
        st["ours_over_budget"] += 1
    if "cli" in r:
        st["cli_checked"] += 1
        st["cli_agree"] += r["cli_ok"]


def print_summary(stats: dict[str, Counter[str]]) -> None:
    total: Counter[str] = Counter()
    print(f"{'class':14} {'files':>6} {'exit %':>7} {'line %':>7} {'in ours %':>9}  other")
    for cls in sorted(stats):
        st = stats[cls]
        total.update(st)
        _row(cls, st)
    _row("ALL", total)


def _row(cls: str, st: Counter[str]) -> None:
    f = st["files"] or 1
    other = {k: v for k, v in st.items() if k not in ("files", "exit_agree", "loc_agree", "loc_in") and v}
    print(f"{cls:14} {st['files']:6} {100 * st['exit_agree'] / f:7.2f} {100 * st['loc_agree'] / f:7.2f}"
          f" {100 * st['loc_in'] / f:9.2f}  {other}")


def summarize(paths: list[str]) -> None:
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    for p in paths:
        for line in open(p):
            r = json.loads(line)
            st = stats[r["class"]]
            st["files"] += 1
            _count(st, r)
    print_summary(stats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extract", metavar="GITDIR", help="regenerate the keyword table from a keepalived repository")
    ap.add_argument("--tag", default="v2.2.7")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", help="comma-separated subset of " + ",".join(K.CLASSES))
    ap.add_argument("--record", help="append one JSON line per case (disagreements with their files) to this file")
    ap.add_argument("--cli-every", type=int, default=50, help="also run `pykeepalived -t` on one case in N (0: never)")
    ap.add_argument("--progress", type=int, default=500)
    ap.add_argument("--case", metavar="CLASS:SEED", help="print the files of one generated case")
    ap.add_argument("--summary", nargs="+", metavar="RECORD", help="print the per-class table of recorded runs")
    args = ap.parse_args()
    if args.extract:
        K.TABLE_FILE.write_text(json.dumps(extract(args.extract, args.tag), indent=1) + "\n")
        return 0
    if args.case:
        cls, seed = args.case.split(":")
        files = K.generate(K.Table(K.load_table()), cls, random.Random(int(seed)), samples=K.sample_files(),
                           helpers="/HELPERS")
        for name, data in files.items():
            print(f"==> {name} <==\n{data.decode('utf-8', 'backslashreplace')}")
        return 0
    if args.summary:
        summarize(args.summary)
        return 0
    if os.geteuid() != 0:
        print("needs root (a network namespace for keepalived -t)", file=sys.stderr)
        return 2
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
