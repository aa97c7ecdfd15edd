"""SIGHUP with the configuration file missing or unreadable (issue 24 item 9).

keepalived 2.2.7 reads a missing or unreadable file as an empty configuration and removes
every instance and VIP; reload()'s docstring promised to refuse it, and a file missing
mid-deploy is an outage. The reload is refused, logged at ERROR with the file and the reason,
and counted (pykeepalived_reload_failures_total, pykeepalived_config_last_reload_successful).
In-process here (the supervisor's and the child's halves); tests/ops/test_vrrp_ops.py has the
running daemon in a namespace."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pykeepalived import child, pidfile
from pykeepalived.status.metrics import render_metrics
from pykeepalived.supervisor.process import Supervisor

CONF = """global_defs {
  dynamic_interfaces
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    192.0.2.100/24
  }
}
"""


@pytest.fixture
def sup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Supervisor:
    cfg = tmp_path / "keepalived.conf"
    cfg.write_text(CONF)
    opts = argparse.Namespace(config_file=str(cfg), config_id=None, all_config=False, namespace=None)
    loaded = child.load_config(opts, quiet=True)
    assert loaded.config is not None and loaded.config.vrrp_instances
    s = Supervisor(opts, loaded.config, pidfile.PidFiles(str(tmp_path / "a.pid"), str(tmp_path / "v.pid"),
                                                                str(tmp_path / "c.pid"), False))
    s.hups = 0  # type: ignore[attr-defined]

    def hup(sig: int, kinds: tuple[str, ...] = ("vrrp", "checker")) -> None:
        s.hups += 1  # type: ignore[attr-defined]

    monkeypatch.setattr(s, "signal_children", hup)
    monkeypatch.setattr(s, "start_children", lambda: True)
    s.remember_config_files()  # as run() does after the first load
    return s


def metrics(s: Supervisor) -> dict[str, float]:
    text = render_metrics({"daemon": s.daemon_info(), "children": {}}).decode()
    return {sample.name: sample.value for f in text_string_to_metric_families(text) for sample in f.samples
            if sample.name.startswith("pykeepalived_")}


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


@pytest.mark.parametrize("how,reason", [
    ("removed", "No such file or directory"),
    ("directory", "it is a directory"),
    ("executable", "not a regular non-executable file"),
])
def test_unreadable_file_is_refused(sup: Supervisor, caplog: pytest.LogCaptureFixture,
                                    how: str, reason: str) -> None:
    cfg = Path(sup.opts.config_file)
    running = sup.config
    aside = cfg.with_suffix(".aside")
    cfg.rename(aside)
    if how == "directory":
        cfg.mkdir()
    elif how == "executable":
        shutil.copy(aside, cfg)
        cfg.chmod(0o755)
    caplog.set_level(logging.INFO)
    sup.reload()
    assert sup.config is running and sup.hups == 0  # type: ignore[attr-defined]
    assert errors(caplog) == [f"Reload refused: configuration file {cfg} cannot be read ({reason}) - "
                              "keeping the running configuration"]
    assert "Reload finished" not in caplog.text
    m = metrics(sup)
    assert m["pykeepalived_reload_failures_total"] == 1 and m["pykeepalived_config_last_reload_successful"] == 0
    assert m["pykeepalived_reloads_total"] == 0

    # Back in place: a normal reload, and the gauge says so.
    if cfg.is_dir():
        cfg.rmdir()
    elif cfg.exists():
        cfg.unlink()
    aside.rename(cfg)
    sup.reload()
    assert sup.hups == 1 and sup.config is not running  # type: ignore[attr-defined]
    m = metrics(sup)
    assert m["pykeepalived_reloads_total"] == 1 and m["pykeepalived_config_last_reload_successful"] == 1
    assert m["pykeepalived_reload_failures_total"] == 1


def test_unusable_file_is_refused_the_same_way(sup: Supervisor, caplog: pytest.LogCaptureFixture) -> None:
    """A file that parses to something that cannot run (here a fatal include_check miss) is
    refused too, logged at ERROR and counted: the same visibility as a missing file."""
    cfg = Path(sup.opts.config_file)
    cfg.write_text("global_defs {\n  include_check\n}\ninclude /nonexistent/*.conf\n" + CONF)
    caplog.set_level(logging.INFO)
    sup.reload()
    assert sup.hups == 0 and sup.reload_failures == 1 and not sup.last_reload_ok  # type: ignore[attr-defined]
    assert any("keeping the running configuration" in e and str(cfg) in e for e in errors(caplog))


def test_a_refused_reload_is_visible_in_metrics_api_and_systemd(sup: Supervisor, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 step 2: a refused reload is an ERROR line, pykeepalived_reload_failures_total,
    pykeepalived_config_last_reload_successful 0, pykeepalived_config_changed_on_disk 1 (the file
    on disk is not what runs), its reason in /v1/daemon (last_reload_ok/last_reload_error) and a
    STATUS= line to systemd; a good reload clears all of it."""
    import json
    import socket
    import time

    from pykeepalived.status.server import route

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))

    def api() -> dict[str, object]:
        return dict(json.loads(route("/v1/daemon", {"daemon": sup.daemon_info(), "children": {}})[2]))

    loaded_at = sup.config_loaded_at
    m = metrics(sup)
    assert m["pykeepalived_config_changed_on_disk"] == 0 and m["pykeepalived_config_last_reload_successful"] == 1
    assert m["pykeepalived_config_last_reload_success_timestamp_seconds"] == loaded_at
    assert api()["last_reload_ok"] is True and api()["last_reload_error"] is None

    cfg = Path(sup.opts.config_file)
    cfg.write_text("global_defs {\n  include_check\n}\ninclude /nonexistent/*.conf\n" + CONF)
    caplog.set_level(logging.INFO)
    sup.reload()
    assert any("keeping the running configuration" in e for e in errors(caplog))
    m = metrics(sup)
    assert m["pykeepalived_reload_failures_total"] == 1 and m["pykeepalived_config_last_reload_successful"] == 0
    assert m["pykeepalived_config_changed_on_disk"] == 1
    assert m["pykeepalived_config_last_reload_success_timestamp_seconds"] == loaded_at
    info = api()
    assert info["last_reload_ok"] is False and isinstance(info["last_reload_time"], float)
    error = str(info["last_reload_error"])
    assert error.startswith(f"configuration file {cfg} cannot run: ") and f"({cfg}: Line 4)" in error, error
    assert notify.recv(4096).startswith(b"RELOADING=1")
    ready = notify.recv(4096).decode()
    assert ready.startswith("READY=1\nMAINPID=") and "\nSTATUS=Reload refused, running the previous " \
        f"configuration: configuration file {cfg} cannot run: " in ready and "\n" not in ready.split("STATUS=")[1]

    time.sleep(0.01)
    cfg.write_text(CONF)
    sup.reload()
    m = metrics(sup)
    assert m["pykeepalived_config_last_reload_successful"] == 1 and m["pykeepalived_config_changed_on_disk"] == 0
    assert m["pykeepalived_config_last_reload_success_timestamp_seconds"] > loaded_at
    assert api()["last_reload_ok"] is True and api()["last_reload_error"] is None
    assert notify.recv(4096).startswith(b"RELOADING=1")
    assert notify.recv(4096).decode().endswith("\nSTATUS=Running; configuration reloaded")
    # edited and not reloaded: the running configuration is no longer what the file says
    cfg.write_text(CONF.replace("priority 100", "priority 101"))
    assert metrics(sup)["pykeepalived_config_changed_on_disk"] == 1
    notify.close()


def test_child_keeps_its_configuration_when_the_file_vanished(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The child re-reads the file after the parent's SIGHUP: if it is gone by then, the child
    keeps running its configuration too (it used to apply an empty one)."""
    cfg = tmp_path / "keepalived.conf"
    opts = argparse.Namespace(config_file=str(cfg), config_id=None, all_config=False)
    caplog.set_level(logging.INFO)
    assert child.reload_config_for_child(opts) is None
    assert errors(caplog) == [f"Reload refused: configuration file {cfg} cannot be read (No such file or directory)"
                              " - keeping the running configuration"]
    cfg.write_text(CONF)
    assert child.reload_config_for_child(opts).vrrp_instances[0].name == "VI_1"  # type: ignore[union-attr]
    assert os.path.exists(cfg)
