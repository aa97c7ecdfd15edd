"""Real keepalived 2.2.7 and our checkers judge the same real servers and log the same lines.

keepalived runs checkers only where the kernel has ip_vs, so this runs inside the IPVS VM:

    /work/shared/tools/ipvs-vm/run-in-ipvs-vm.sh \\
        '/work/main/.venv/bin/python -m pytest -q -p no:cacheprovider tests/check/test_vm_interop.py'

One network namespace holds the real servers (tests/check/servers.py, on 127.0.0.0/8; the UDP
ones on 127.0.0.1, since they answer from the address the routing picks). keepalived
(-C, checker process only) runs there on a configuration with passing and failing servers of
each kind; then our CheckerService runs on the same file in the same namespace. The checker log
lines of both (success, failure, add/remove from the pool) must be the same set, byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from checklib import HERE, in_netns

from harness import private_netns
from pykeepalived.check import CheckerService
from pykeepalived.config import load

pytestmark = [pytest.mark.ipvs, pytest.mark.interop]

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
RUN_FOR = 14.0  # seconds each implementation runs
LINE = re.compile(r"^(?:\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: )?(.*)$")
CHECKER_LINE = re.compile(
    r"(connection to|success to|succeed on service|on service .* failed|ing service|Misc check for|"
    r"SMTP_CHECK|DNS_CHECK|Changing weight)")


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not Path(KEEPALIVED).exists():
        return "needs the real keepalived 2.2.7"
    if not os.path.exists("/proc/net/ip_vs") and shutil.which("modprobe"):  # no kmod: cannot load it
        subprocess.run(["modprobe", "ip_vs"], capture_output=True, check=False)
    if not os.path.exists("/proc/net/ip_vs"):
        return ("kernel has no ip_vs (keepalived runs checkers only with IPVS); run inside the VM: "
                "/work/shared/tools/ipvs-vm/run-in-ipvs-vm.sh "
                "'/work/main/.venv/bin/python -m pytest -q tests/check/test_vm_interop.py'")
    return None


def config(tmp: Path) -> str:
    ok_md5 = hashlib.md5(b"hello world\n").hexdigest()
    fail = tmp / "fail.sh"
    fail.write_text("#!/bin/sh\nexit 1\n")
    fail.chmod(0o755)
    dyn = tmp / "dyn.sh"
    dyn.write_text("#!/bin/sh\nexit 9\n")
    dyn.chmod(0o755)
    return f"""
global_defs {{
  enable_script_security
  script_user root
}}
virtual_server 10.9.9.9 80 {{
  delay_loop 3
  lvs_sched rr
  protocol TCP
  real_server 127.0.0.2 80 {{
    HTTP_GET {{
      url {{
        path /ok
        digest {ok_md5}
      }}
      connect_timeout 3
    }}
  }}
  real_server 127.0.0.3 80 {{
    HTTP_GET {{
      url {{
        path /status/500
      }}
      connect_timeout 3
      retry 1
      delay_before_retry 1
    }}
  }}
  real_server 127.0.0.4 80 {{
    TCP_CHECK {{
      connect_timeout 3
    }}
  }}
  real_server 127.0.0.5 81 {{
    TCP_CHECK {{
      connect_timeout 3
      retry 1
      delay_before_retry 1
    }}
  }}
  real_server 127.0.0.6 25 {{
    SMTP_CHECK {{
      connect_timeout 3
    }}
  }}
  real_server 127.0.0.7 26 {{
    SMTP_CHECK {{
      connect_timeout 3
      retry 0
    }}
  }}
  real_server 127.0.0.8 80 {{
    weight 5
    MISC_CHECK {{
      misc_path {fail}
      misc_timeout 5
    }}
  }}
  real_server 127.0.0.9 80 {{
    MISC_CHECK {{
      misc_path {dyn}
      misc_dynamic
      misc_timeout 5
    }}
  }}
}}
virtual_server 10.9.9.9 53 {{
  delay_loop 3
  lvs_sched rr
  protocol UDP
  real_server 127.0.0.1 53 {{
    DNS_CHECK {{
      type A
      name ok.test
      connect_timeout 3
    }}
  }}
}}
virtual_server 10.9.9.10 53 {{
  delay_loop 3
  lvs_sched rr
  protocol UDP
  real_server 127.0.0.1 53 {{
    DNS_CHECK {{
      type A
      name missing.test
      connect_timeout 3
      retry 1
      delay_before_retry 1
    }}
  }}
}}
virtual_server 10.9.9.9 9001 {{
  delay_loop 3
  lvs_sched rr
  protocol UDP
  real_server 127.0.0.1 9001 {{
    UDP_CHECK {{
      payload 6869
      require_reply 504f4e47
      connect_timeout 3
    }}
  }}
}}
"""


def checker_lines(text: str) -> set[str]:
    out = set()
    for raw in text.splitlines():
        m = LINE.match(raw.strip())
        line = m.group(1) if m else raw
        if CHECKER_LINE.search(line):
            out.add(line)
    return out


@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_same_log_lines_as_keepalived(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(config(tmp_path))
    with private_netns("chkvm") as ns:
        servers = None
        try:
            servers = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(HERE / "servers.py")],
                                       stdout=subprocess.PIPE, text=True, start_new_session=True)
            assert servers.stdout is not None and servers.stdout.readline().strip() == "READY"

            # keepalived, checker process only, in the foreground, logging to the console
            log = tmp_path / "keepalived.log"
            with open(log, "wb") as out:
                ka = subprocess.Popen(["ip", "netns", "exec", ns, KEEPALIVED, "-n", "-l", "-C", "-f", str(conf),
                                       "-p", str(tmp_path / "ka.pid"), "-c", str(tmp_path / "ka-c.pid")],
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            time.sleep(RUN_FOR)
            os.killpg(ka.pid, signal.SIGTERM)
            ka.wait(20)
            theirs = checker_lines(log.read_text(errors="replace"))

            # ours on the same file, same namespace, same time budget
            loaded = load(str(conf))
            assert loaded.config is not None, loaded.diagnostics
            messages: list[str] = []

            class Collect(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    messages.append(record.getMessage())

            handler = Collect(logging.INFO)
            logging.getLogger("pykeepalived").addHandler(handler)
            logging.getLogger("pykeepalived").setLevel(logging.INFO)

            async def run() -> None:
                service = CheckerService.from_config(loaded.config)  # type: ignore[arg-type]
                await service.start(freeze_gc=False)
                await asyncio.sleep(RUN_FOR)
                await service.stop()

            try:
                in_netns(ns, run)
            finally:
                logging.getLogger("pykeepalived").removeHandler(handler)
            ours = checker_lines("\n".join(messages))
        finally:
            if servers is not None:
                os.killpg(servers.pid, signal.SIGKILL)
                servers.wait()

    # what keepalived 2.2.7 logged for this setup (recorded in the VM): every checker kind is covered
    assert {
        "TCP connection to [127.0.0.4]:tcp:80 success.",
        "TCP_CHECK on service [127.0.0.5]:tcp:81 failed.",
        "Remote Web server [127.0.0.2]:tcp:80 succeed on service.",
        "HTTP_CHECK on service [127.0.0.3]:tcp:80 failed after 1 retries.",
        "Remote SMTP server [127.0.0.6]:tcp:25 succeed on service.",
        "SMTP_CHECK Bad greeting banner from server [127.0.0.7]:26",
        "UDP connection to [127.0.0.1]:udp:9001 success.",
        "DNS_CHECK ([127.0.0.1]:udp:53) read error occurred. (rcode = 3)",
        "Changing weight from 1 to 7 for active service [127.0.0.9]:tcp:80 of VS [10.9.9.9]:tcp:80",
        "Removing service [127.0.0.5]:tcp:81 from VS [10.9.9.9]:tcp:80",
    } <= theirs
    assert sorted(ours) == sorted(theirs), (
        f"only keepalived: {sorted(theirs - ours)}\nonly ours: {sorted(ours - theirs)}")
