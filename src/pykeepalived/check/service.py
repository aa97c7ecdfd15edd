"""The checker side of the checker process: build every checker of a configuration, run
them on one scheduler, publish results through one HealthHub.

    service = CheckerService.from_config(config)
    service.hub.subscribe(callback)          # or: async for h in service.hub.events()
    await service.start()
    ...
    await service.stop()
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import random
import resource

from pykeepalived.check.alert import Alerter, smtp_alert_enabled
from pykeepalived.check.base import BOOTSTRAP_DELAY, Checker
from pykeepalived.check.common import Target
from pykeepalived.check.dns import DnsChecker
from pykeepalived.check.file import FileChecker
from pykeepalived.check.http import HttpChecker, SslChecker, make_ssl_context
from pykeepalived.check.hub import HealthHub
from pykeepalived.check.misc import MiscChecker
from pykeepalived.check.ping import PingChecker
from pykeepalived.check.scheduler import Scheduler
from pykeepalived.check.smtp import SmtpChecker
from pykeepalived.check.tcp import TcpChecker
from pykeepalived.check.udp import UdpChecker
from pykeepalived.config import model

log = logging.getLogger(__name__)


def build_checker(spec: model.Checker, vs: model.VirtualServer, rs: model.RealServer,
                  config: model.Config, hub: HealthHub) -> Checker | None:
    """One checker from its model; None (with a log line) for what we cannot run."""
    target = Target.of(vs, rs)
    gd = config.global_defs
    log_all = gd.checker_log_all_failures
    if isinstance(spec, model.TcpCheck):
        return TcpChecker(spec, target, hub, log_all_failures=log_all)
    if isinstance(spec, model.HttpGet):
        try:
            ctx = make_ssl_context(config.ssl) if spec.ssl else None
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            log.error("SSL_GET for %s: the SSL block cannot be used (%s) - ignoring checker", target.fmt_rs, e)
            return None
        cls = SslChecker if spec.ssl else HttpChecker
        return cls(spec, target, hub, log_all_failures=log_all, ssl_ctx=ctx,
                           rs_virtualhost=rs.virtualhost, vs_virtualhost=vs.virtualhost)
    if isinstance(spec, model.SmtpCheck):
        return SmtpChecker(spec, target, hub, log_all_failures=log_all)
    if isinstance(spec, model.DnsCheck):
        return DnsChecker(spec, target, hub, log_all_failures=log_all)
    if isinstance(spec, model.UdpCheck):
        return UdpChecker(spec, target, hub, log_all_failures=log_all)
    if isinstance(spec, model.PingCheck):
        return PingChecker(spec, target, hub, log_all_failures=log_all)
    if isinstance(spec, model.MiscCheck):
        if spec.misc_path is None:
            log.info("MISC_CHECK for %s has no misc_path - ignoring", target.fmt_rs)
            return None
        try:
            return MiscChecker(spec, target, hub, log_all_failures=log_all, script_user=gd.script_user,
                               script_group=gd.script_group)
        except KeyError as e:
            log.error("MISC_CHECK for %s: unknown user or group %s - ignoring checker", target.fmt_rs, e)
            return None
    if isinstance(spec, model.FileCheck):
        tf = next((t for t in config.track_files if t.name == spec.track_file), None)
        if tf is None or not tf.file:
            log.info("FILE_CHECK for %s: track_file %s not found - ignoring", target.fmt_rs, spec.track_file)
            return None
        return FileChecker(spec, target, hub, track_file=tf)
    log.info("%s for %s is not supported by this checker process - ignoring", spec.kind, target.fmt_rs)
    return None


def build_checkers(config: model.Config, hub: HealthHub, alerter: Alerter | None = None) -> list[Checker]:
    checkers: list[Checker] = []
    for vs in config.virtual_servers:
        for rs in vs.real_servers:
            hub.add_real_server(Target.of(vs, rs), rs)
            alerts = alerter is not None and smtp_alert_enabled(config.global_defs, vs, rs)
            for spec in rs.checkers:
                checker = build_checker(spec, vs, rs, config, hub)
                if checker is not None:
                    if alerts:
                        checker.alerter = alerter
                    hub.attach(checker)
                    checkers.append(checker)
    return checkers


_TIMING = frozenset({"pos", "delay_loop", "retry", "delay_before_retry", "warmup", "alpha", "log_all_failures"})


def same_check(a: object, b: object) -> object:
    """What identifies a checker across a reload: its type and options, not its timing or line."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return (type(a).__name__,) + tuple((f.name, same_check(getattr(a, f.name), None))
                                           for f in dataclasses.fields(a) if f.name not in _TIMING)
    if isinstance(a, tuple):
        return tuple(same_check(x, None) for x in a)
    return a


def raise_fd_limit(wanted: int) -> None:
    """Every attempt in flight holds a socket: raise the soft RLIMIT_NOFILE towards `wanted`
    (up to the hard limit), as keepalived does for large configurations."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class CheckerService:
    def __init__(self, checkers: list[Checker], hub: HealthHub, *, record_lateness: bool = False,
                 alerter: Alerter | None = None) -> None:
        self.checkers = checkers
        self.hub = hub
        self.alerter = alerter
        self.scheduler = Scheduler(record_lateness=record_lateness)

    @classmethod
    def from_config(cls, config: model.Config, *, hub: HealthHub | None = None,
                    record_lateness: bool = False) -> CheckerService:
        hub = hub or HealthHub()
        alerter = Alerter(config.global_defs)
        return cls(build_checkers(config, hub, alerter), hub, record_lateness=record_lateness, alerter=alerter)

    def set_enabled(self, vs_key: str, enabled: bool) -> None:
        """ha_suspend: suspend or resume the checkers of one virtual server (by `VirtualServer.key`)
        while its address is absent from / present on this host. A suspended checker keeps its
        schedule but does nothing, as keepalived's disabled checkers."""
        for c in self.checkers:
            if c.target.key.vs != vs_key or c.enabled == enabled:
                continue
            log.info("%s healthchecker for service %s for VS %s", "Activating" if enabled else "Suspending",
                     c.target.fmt_rs, c.target.fmt_vs)
            c.enabled = enabled

    def carry_over(self, old: CheckerService) -> int:
        """Reload: checkers unchanged since `old` keep their state (up/down, has run, retries,
        dynamic weight), and so do their real servers; call before start(). The number kept."""
        pool: dict[tuple[object, ...], list[Checker]] = {}
        for c in old.checkers:
            pool.setdefault((c.target.key, same_check(c.spec, None)), []).append(c)
        kept = 0
        for c in self.checkers:
            candidates = pool.get((c.target.key, same_check(c.spec, None)))
            if not candidates:
                continue
            prev = candidates.pop(0)
            kept += 1
            c.is_up, c.has_run = prev.is_up, prev.has_run
            if prev.retry_it and c.retry:
                c.retry_it = c.retry - 1 if prev.retry_it >= c.retry else prev.retry_it
            c.carry_from(prev)
        self.hub.adopt(old.hub)
        return kept

    async def start(self, *, bootstrap: float = BOOTSTRAP_DELAY, rng: random.Random | None = None,
                    freeze_gc: bool = True) -> None:
        """Start every checker. `freeze_gc` moves what exists now (the configuration, the checkers)
        out of the collector's sight: with thousands of checkers, full collections otherwise
        scan them all again and again and stall the loop for tens of milliseconds."""
        if freeze_gc:
            gc.collect()
            gc.freeze()
        raise_fd_limit(len(self.checkers) * 2 + 64)
        for checker in self.checkers:
            log.info("Activating healthchecker for service %s for VS %s", checker.target.fmt_rs,
                     checker.target.fmt_vs)
        self.scheduler.start(self.checkers, rng=rng, bootstrap=bootstrap)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.hub.drain()
        if self.alerter is not None:
            await self.alerter.drain()
