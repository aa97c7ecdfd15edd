"""keepalived(8)-compatible command line.

Every keepalived option is declared here, once, with keepalived's long and short
names. Options we do not implement are declared too, so that using one gives a
clear message and a non-zero exit instead of being silently ignored.
Sub-commands of our own: `pykeepalived status` and `pykeepalived genhash`
(also `-T/--genhash` as the first option, as keepalived has it).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.errors import EXIT_FATAL, PykeepalivedError
from pykeepalived.osutil import SIGJSON, SIGSTATS_CLEAR

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"

# --signum names and the numbers glibc keepalived prints (STATS_CLEAR = SIGRTMAX-1, JSON = SIGRTMIN+2).
SIGNUMS = {
    "STOP": int(signal.SIGTERM),
    "RELOAD": int(signal.SIGHUP),
    "DATA": int(signal.SIGUSR1),
    "STATS": int(signal.SIGUSR2),
    "STATS_CLEAR": int(SIGSTATS_CLEAR),
    "JSON": int(SIGJSON),
}

# Options accepted by keepalived that this implementation does not provide.
UNSUPPORTED = {"snmp": "-x/--snmp", "snmp_agent_socket": "-A/--snmp-agent-socket", "perf": "--perf"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(EXIT_FATAL)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pykeepalived", description="pykeepalived: keepalived-compatible VRRP and LVS daemon",
                add_help=False)
    a = p.add_argument
    a("-f", "--use-file", dest="config_file", default=DEFAULT_CONFIG, metavar="FILE",
      help="use the specified configuration file")
    a("-P", "--vrrp", action="store_true", help="only run with VRRP subsystem")
    a("-C", "--check", action="store_true", help="only run with Health-checker subsystem")
    a("-B", "--no_bfd", action="store_true", help="don't run BFD subsystem")
    a("--all", action="store_true", help="force all child processes to run, even if they have no configuration")
    a("-l", "--log-console", action="store_true", help="log messages to local console")
    a("-D", "--log-detail", action="count", default=0, help="detailed log messages (twice: extra detail)")
    a("-S", "--log-facility", metavar="FACILITY", help="0-7 (local0-7), user or daemon; default daemon")
    a("-g", "--log-file", nargs="?", const="/tmp/keepalived.log", metavar="FILE", help="also log to FILE")
    a("--flush-log-file", action="store_true", help="flush the log file after each write")
    a("-G", "--no-syslog", action="store_true", help="don't log via syslog")
    a("-u", "--umask", metavar="MASK", help="umask for file creation (in numeric form)")
    a("-X", "--release-vips", action="store_true", help="drop VIPs and VRRP routes on exit of a failed instance")
    a("-V", "--dont-release-vrrp", action="store_true", help="don't remove VRRP VIPs and routes on daemon stop")
    a("-I", "--dont-release-ipvs", action="store_true", help="don't remove IPVS topology on daemon stop")
    a("-R", "--dont-respawn", action="store_true", help="don't respawn child processes")
    a("-n", "--dont-fork", action="store_true", help="don't fork the daemon process")
    a("-d", "--dump-conf", action="store_true", help="dump the configuration data")
    a("-p", "--pid", dest="pid_file", metavar="FILE", help="use specified pidfile for parent process")
    a("-r", "--vrrp_pid", dest="vrrp_pid_file", metavar="FILE", help="use specified pidfile for VRRP child")
    a("-c", "--checkers_pid", dest="checkers_pid_file", metavar="FILE",
      help="use specified pidfile for checkers child")
    a("-b", "--bfd_pid", dest="bfd_pid_file", metavar="FILE", help="use specified pidfile for BFD child")
    a("-a", "--address-monitoring", action="store_true", help="report all address additions/deletions")
    a("-s", "--namespace", metavar="NAME", help="run in network namespace NAME (overrides config)")
    a("-e", "--all-config", action="store_true", help="error if any configuration file is missing")
    a("-i", "--config-id", metavar="ID", help="skip any configuration lines beginning '@' that don't match ID")
    a("-x", "--snmp", action="store_true", help="(not supported) enable SNMP subsystem")
    a("-A", "--snmp-agent-socket", metavar="FILE", help="(not supported) AgentX socket")
    a("-m", "--core-dump", action="store_true", help="produce core dump if terminate abnormally")
    a("-M", "--core-dump-pattern", nargs="?", const="core", metavar="PATTERN",
      help="also set /proc/sys/kernel/core_pattern")
    a("--signum", metavar="SIGFUNC", help="return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON")
    a("-t", "--config-test", nargs="?", const="", metavar="FILE", help="check the configuration for obvious errors")
    a("--perf", nargs="?", const="run", metavar="all|run|end", help="(not supported) collect perf data")
    a("--no-mem-check", action="store_true", help="disable malloc() etc. mem-checks (no effect here)")
    a("--ignore-sigint", action="store_true", help="ignore SIGINT (for debugging)")
    a("--debug", nargs="?", const="", metavar="OPTIONS", help="debug options (accepted, no effect)")
    a("-v", "--version", action="store_true", help="display the version number")
    a("-h", "--help", action="store_true", help="display this help message")
    # pykeepalived's own options.
    a("--status-listen", metavar="ADDR:PORT|unix:PATH", help="serve the read-only status API and /metrics")
    a("--status-token-file", metavar="FILE", help="bearer token required by a non-loopback status listener")
    a("--status-tls-cert", metavar="FILE", help="serve the status API over TLS with this certificate (PEM)")
    a("--status-tls-key", metavar="FILE", help="the private key of --status-tls-cert (PEM)")
    a("--metrics-names", choices=("mehdy", "gen2brain", "both"), default="mehdy",
      help="VRRP counter names in /metrics: mehdy/keepalived-exporter's, gen2brain/keepalived_exporter's, both")
    a("--lvs-backend", choices=("auto", "ipvs", "nftables"), default="auto",
      help="LVS backend: IPVS, nftables, or auto (IPVS when the kernel has ip_vs)")
    return p


def help_text() -> str:
    """keepalived's `Usage: keepalived [OPTION...]` layout: `  -f, --use-file=FILE   Text`."""
    lines = ["Usage: pykeepalived [OPTION...]"]
    for action in build_parser()._actions:
        shorts = [o for o in action.option_strings if not o.startswith("--")]
        longs = [o for o in action.option_strings if o.startswith("--")]
        name = (shorts[0] + ", " if shorts else "    ") + (longs[0] if longs else "")
        if action.nargs != 0:
            meta = action.metavar or ("|".join(action.choices) if action.choices else action.dest.upper())
            name += f"[={meta}]" if action.nargs == "?" else f"={meta}"
        text = (action.help or "")[:1].upper() + (action.help or "")[1:]
        lines.append(f"  {name:<29}{text}" if len(name) < 29 else f"  {name}\n{'':31}{text}")
    lines += ["", "Commands of pykeepalived's own (each has its --help):",
              "  pykeepalived status [--json]  the running daemon's instances and state (read-only)",
              "  pykeepalived genhash ...      keepalived's genhash: a page's digest for HTTP_GET/SSL_GET",
              "                                (also -T/--genhash as the first option, as in keepalived)"]
    return "\n".join(lines)


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def man_page() -> str:
    """pykeepalived(8) in roff, from the one argparse definition (ci/install.sh installs it)."""
    out = [f'.TH PYKEEPALIVED 8 "" "pykeepalived {__version__}" "System Administration"',
           ".SH NAME", "pykeepalived \\- keepalived\\-compatible VRRP and LVS daemon",
           ".SH SYNOPSIS", ".B pykeepalived", "[\\fIOPTION\\fR...]", ".br",
           ".B pykeepalived status", "[\\fB\\-\\-json\\fR] [\\fB\\-r\\fR \\fIVRRP_PIDFILE\\fR]", ".br",
           ".B pykeepalived genhash", "\\fIOPTIONS\\fR",
           ".SH DESCRIPTION",
           _roff(f"A drop-in replacement for keepalived {KEEPALIVED_COMPAT}: the same configuration file "
                 "(keepalived.conf(5)), command line, pid files, signals, dump files, log idents and exit "
                 "statuses, and the same VRRP on the wire. Options pykeepalived does not implement are "
                 "refused with a message instead of being ignored."),
           ".SH OPTIONS"]
    for action in build_parser()._actions:
        parts = []
        for o in action.option_strings:
            item = f"\\fB{_roff(o)}\\fR"
            if action.nargs != 0:
                meta = str(action.metavar or ("|".join(action.choices) if action.choices else action.dest.upper()))
                sep = "=" if o.startswith("--") else " "
                item += f"[{sep}\\fI{_roff(meta)}\\fR]" if action.nargs == "?" else f"{sep}\\fI{_roff(meta)}\\fR"
            parts.append(item)
        help_ = action.help or ""
        out += [".TP", ", ".join(parts), _roff(help_[:1].upper() + help_[1:])]
    out += [".SH COMMANDS", ".TP", "\\fBstatus\\fR",
            _roff("The running daemon's instances and their state, as a table or JSON (read-only)."),
            ".TP", "\\fBgenhash\\fR, \\fB\\-T\\fR, \\fB\\-\\-genhash\\fR",
            _roff("keepalived's genhash: the digest of a page for HTTP_GET/SSL_GET (as the first argument)."),
            ".SH EXIT STATUS",
            _roff("0 ok; 1 fatal error; 2 the configuration cannot run; 4 missing permission (not root: "
                  "CAP_NET_RAW and CAP_NET_ADMIN are needed); 6 no configuration file. With -t: 0 valid, "
                  "4 cannot run, 5 errors keepalived works around, 6 script security or a missing file "
                  "(keepalived 2.2.7 exits 0 on a missing file)."),
            ".SH FILES", _roff(f"{DEFAULT_CONFIG}, /etc/default/keepalived, /etc/default/pykeepalived, "
                               "/run/keepalived.pid, /run/vrrp.pid, /run/checkers.pid, "
                               "/tmp/keepalived.data, /tmp/keepalived.stats, /tmp/keepalived.json"),
            ".SH SEE ALSO", "keepalived(8), keepalived.conf(5), genhash(1)"]
    return "\n".join(out) + "\n"


def version_text() -> str:
    from pykeepalived import _fastpath

    return (f"pykeepalived v{__version__} (keepalived {KEEPALIVED_COMPAT} compatible)\n"
            f"fast path: {_fastpath.IMPLEMENTATION}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "status":
            from pykeepalived.status.client import main as status_main

            return status_main(args[1:])
        if args and (args[0] in ("genhash", "-T", "--genhash")):
            from pykeepalived.check.genhash import main as genhash_main

            return genhash_main(args[1:])
        opts = build_parser().parse_args(args)
        if opts.help:  # keepalived prints help and version on stderr
            print(help_text(), file=sys.stderr)
            return 0
        if opts.version:
            print(version_text(), file=sys.stderr)
            return 0
        for dest, name in UNSUPPORTED.items():
            if getattr(opts, dest) not in (None, False):
                print(f"pykeepalived: option {name} is not supported", file=sys.stderr)
                return EXIT_FATAL
        if opts.signum is not None:
            num = SIGNUMS.get(opts.signum)  # case-sensitive, as keepalived
            if num is None:
                print(f"Unknown sigfunc {opts.signum}", file=sys.stderr)
                return EXIT_FATAL
            print(num)
            return 0
        if opts.config_test is not None or opts.dump_conf:
            from pykeepalived.config.check import config_test

            return config_test(opts)
        from pykeepalived.supervisor.process import run

        return run(opts)
    except PykeepalivedError as exc:
        print(f"pykeepalived: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
