"""Helpers for the production-feature tests: script directories, FIFO readers, configs, waits.

Scripts must live on a path only root can modify (enable_script_security refuses anything
else), and a non-root script_user must be able to traverse it: `ScriptDir` is a fresh
root-owned 0755 directory under /tmp, removed afterwards.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.daemon import VrrpDaemon
from harness.lab import Host
from harness.wait import wait_until

IMPLS = {"py": "pykeepalived", "ka": "keepalived"}


class ScriptDir:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="pka-prod-", dir="/tmp"))
        os.chmod(self.path, 0o755)

    def script(self, name: str, body: str, mode: int = 0o755) -> str:
        p = self.path / name
        p.write_text(body)
        os.chmod(p, mode)
        return str(p)

    def subdir(self, name: str, mode: int = 0o755, owner: str | None = None) -> Path:
        p = self.path / name
        p.mkdir()
        os.chmod(p, mode)
        if owner is not None:
            pw = pwd.getpwnam(owner)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        return p

    def fifo(self, name: str = "fifo") -> FifoReader:
        return FifoReader(str(self.path / name))

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class FifoReader:
    """Creates the FIFO and keeps it open for reading, so every line written stays readable
    after the daemon closes its end."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def read(self) -> bytes:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.data += chunk
        return self.data

    def lines(self) -> list[str]:
        return self.read().decode().splitlines()

    def wait_line(self, line: str, timeout: float = 10, count: int = 1) -> None:
        """Wait until `line` has been written `count` times."""
        wait_until(lambda: self.lines().count(line) >= count or None, timeout,
                   message=f"FIFO line {line!r} not seen {count} times; got {self.lines()}")

    def close(self) -> None:
        os.close(self.fd)


@contextlib.contextmanager
def throwaway_user() -> Iterator[str]:
    """A system user that exists only for the test."""
    name = f"pka{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


class PrivateUser:
    """A user that exists only for processes started through `argv()`: they get their own mount
    namespace where /etc/passwd and /etc/group are copies with the user added. `useradd` would
    instead change keepalived's default script user (keepalived_script) for every test running
    in parallel. A user that already exists is used as it is."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.passwd, self.group = workdir / "passwd", workdir / "group"
        passwd, group = Path("/etc/passwd").read_text(), Path("/etc/group").read_text()
        try:
            pw = pwd.getpwnam(name)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        except KeyError:
            taken = {p.pw_uid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}
            self.uid = self.gid = next(i for i in range(60000, 65000) if i not in taken)
            passwd += f"{name}:x:{self.uid}:{self.gid}::/nonexistent:/usr/sbin/nologin\n"
            group += f"{name}:x:{self.gid}:\n"
        self.passwd.write_text(passwd)
        self.group.write_text(group)
        os.chmod(self.passwd, 0o644)
        os.chmod(self.group, 0o644)

    def in_mount_ns(self, argv: Sequence[str]) -> list[str]:
        """`argv` with the user visible; the caller must already be in a private mount namespace."""
        bind = 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"'
        return ["sh", "-c", bind, "sh", str(self.passwd), str(self.group), *argv]

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["unshare", "--mount", "--propagation", "private", "--", *self.in_mount_ns(argv)]


def start(host: Host, impl: str, config: str, name: str | None = None) -> VrrpDaemon:
    d = VrrpDaemon(host, config, implementation=IMPLS.get(impl, impl), name=name)
    return d.start()


def count(d: VrrpDaemon, pattern: str) -> int:
    return len(re.findall(pattern, d.log(), re.M))


def wait_count(d: VrrpDaemon, pattern: str, n: int, timeout: float = 15) -> None:
    wait_until(lambda: count(d, pattern) >= n or None, timeout,
               message=f"{d.implementation} on {d.host.name}: {pattern!r} not seen {n} times\n{d.log()}")


def instance(name: str, vrid: int, priority: int, vips: list[str], *, extra: str = "",
             interface: str = "eth0") -> str:
    addrs = "\n".join(f"        {v}" for v in vips)
    return (f"vrrp_instance {name} {{\n    state BACKUP\n    interface {interface}\n"
            f"    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n"
            f"{extra}    virtual_ipaddress {{\n{addrs}\n    }}\n}}\n")


def global_defs(*lines: str) -> str:
    return "global_defs {\n" + "".join(f"    {ln}\n" for ln in lines) + "}\n"
