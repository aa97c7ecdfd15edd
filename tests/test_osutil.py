"""osutil: the one home of the libc glue (setns, prctl, malloc_trim, inotify)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pykeepalived import osutil


def test_inotify_reports_the_names_written_in_a_watched_directory(tmp_path: Path) -> None:
    fd = osutil.inotify_init()
    try:
        assert osutil.inotify_read(fd) == []          # non-blocking: nothing pending
        wd = osutil.inotify_add_watch(fd, str(tmp_path), osutil.IN_CLOSE_WRITE | osutil.IN_CREATE)
        (tmp_path / "value").write_text("5\n")
        events = osutil.inotify_read(fd)
        assert {(w, name) for w, _mask, name in events} == {(wd, "value")}
        assert any(mask & osutil.IN_CLOSE_WRITE for _w, mask, _n in events)
    finally:
        os.close(fd)


def test_inotify_add_watch_failure_is_an_oserror_with_errno(tmp_path: Path) -> None:
    fd = osutil.inotify_init()
    try:
        with pytest.raises(FileNotFoundError):
            osutil.inotify_add_watch(fd, str(tmp_path / "missing"), osutil.IN_CREATE)
    finally:
        os.close(fd)


def test_enter_netns_names_and_paths() -> None:
    assert osutil.netns_path("blue") == "/run/netns/blue"
    assert osutil.netns_path("/proc/1/ns/net") == "/proc/1/ns/net"
    with pytest.raises(FileNotFoundError):
        osutil.enter_netns("pykeepalived-no-such-namespace")


def test_setns_on_a_non_namespace_fd_raises_with_errno(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as exc:
            osutil.setns(fd)
        assert exc.value.errno is not None and exc.value.strerror == os.strerror(exc.value.errno)
    finally:
        os.close(fd)


def test_parent_death_signal_kills_the_child_when_its_parent_exits() -> None:
    """A child that set PR_SET_PDEATHSIG dies when its parent exits."""
    code = (
        "import os, signal, sys, time\n"
        "from pykeepalived import osutil\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    osutil.set_parent_death_signal(signal.SIGKILL)\n"
        "    os.write(w, str(os.getpid()).encode()); os.close(w)\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "os.close(w); print(os.read(r, 32).decode(), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    child = int(out.stdout.strip())
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{child}/stat") as f:
            if f.read().split(") ")[1].startswith("Z"):
                return
        time.sleep(0.05)
    pytest.fail(f"child {child} outlived its parent")


def test_return_free_memory_never_raises() -> None:
    osutil.return_free_memory()
