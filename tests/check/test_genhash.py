"""`pykeepalived genhash` / `-T`: the digest of a url as keepalived's genhash prints it, side
by side with the real keepalived 2.2.7 (`keepalived -T`) against the same server."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from checklib import World

from harness.daemon import keepalived_path
from pykeepalived.check.genhash import main

pytestmark = pytest.mark.privileged


def ours(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return world.cli.run([sys.executable, "-m", "pykeepalived", "genhash", *args], check=False)


def test_digest_line(world: World) -> None:
    r = ours(world, "-s", world.srv.ip, "-p", "80", "-u", "/ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == hashlib.md5(b"hello world\n").hexdigest() + "\n"


def test_ssl_and_options(world: World) -> None:
    r = ours(world, "-S", "-s", world.srv.ip, "-p", "443", "-u", "/regex", "-P", "1.1", "-V", "www.ok.test",
             "-t", "2")
    assert r.returncode == 0, r.stderr
    from servers import PAGE_REGEX  # the page the server sends
    assert r.stdout == hashlib.md5(PAGE_REGEX).hexdigest() + "\n"


def test_verbose_dumps_header_and_body(world: World) -> None:
    r = ours(world, "-v", "-s", world.srv.ip, "-p", "80", "-u", "/ok")
    assert r.returncode == 0
    assert "HTTP Header Ascii Buffer" in r.stdout and "HTTP/1.0 200 X" in r.stdout
    assert "HTML hash final resulting" in r.stdout
    assert hashlib.md5(b"hello world\n").hexdigest() + "\n" in r.stdout


def test_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-s", "192.0.2.1"]) == 1
    assert "Usage: pykeepalived --genhash COMMAND [OPTIONS]" in capsys.readouterr().err
    assert main(["-s", "not-an-ip", "-p", "80", "-u", "/"]) == 1
    assert "server should be an IP, not not-an-ip" in capsys.readouterr().err
    assert main(["-s", "192.0.2.1", "-p", "99999", "-u", "/"]) == 1
    assert "invalid port number '99999'" in capsys.readouterr().err
    assert main(["-s", "192.0.2.1", "-p", "80", "-u", "/", "-P", "2.0"]) == 1
    assert "invalid HTTP protocol version '2.0'" in capsys.readouterr().err


def test_connection_refused_reports(world: World) -> None:
    r = ours(world, "-s", world.srv.ip, "-p", "81", "-u", "/ok", "-t", "2")
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"Error connecting server [{world.srv.ip}]:81." in r.stderr


@pytest.mark.interop
@pytest.mark.parametrize("path", ["/ok", "/regex", "/status/404"])
def test_same_digest_as_keepalived(world: World, path: str) -> None:
    kbin = keepalived_path()
    assert kbin is not None
    theirs = world.cli.run([kbin, "-T", "-s", world.srv.ip, "-p", "80", "-u", path], check=False)
    mine = ours(world, "-s", world.srv.ip, "-p", "80", "-u", path)
    assert mine.returncode == 0
    assert mine.stdout.strip() == theirs.stdout.strip()
    assert len(mine.stdout.strip()) == 32


@pytest.mark.interop
@pytest.mark.parametrize("path", ["/ok", "/regex"])
def test_verbose_output_byte_identical_to_keepalived(world: World, path: str) -> None:
    kbin = keepalived_path()
    assert kbin is not None
    theirs = world.cli.run([kbin, "-T", "-v", "-s", world.srv.ip, "-p", "80", "-u", path], check=False)
    mine = ours(world, "-v", "-s", world.srv.ip, "-p", "80", "-u", path)

    def masked(out: str) -> list[str]:  # the response time differs by nature
        return [ln for ln in out.split("\n") if not ln.startswith("Global response time for ")]

    assert masked(mine.stdout) == masked(theirs.stdout)
    assert f"Global response time for [{path}] = " in mine.stdout
