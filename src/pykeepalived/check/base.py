"""The part every checker shares: its counters (`is_up`, `has_run`, `retry_it`), one attempt
at a time, and keepalived's epilog deciding the verdict and the delay before the next run.

A checker never sleeps and never schedules itself: `run_once()` performs one attempt and
returns the delay after which the scheduler must run it again."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import ClassVar

from pykeepalived.check.alert import Alerter
from pykeepalived.check.common import ConnOpts, Target
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model

log = logging.getLogger("pykeepalived.check")

# keepalived starts every checker one second after start-up (BOOTSTRAP_DELAY = TIMER_HZ).
BOOTSTRAP_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt. `detail` is what keepalived logs about a failure."""

    ok: bool
    detail: str | None = None
    timeout: bool = False


OK = Outcome(True)


class Checker:
    """Base of all checkers. Subclasses implement `attempt()` and the log texts."""

    kind: ClassVar[str] = "CHECK"
    # texts of keepalived's tcp_epilog-style checkers ({rs}, {vs}, {retry} are filled in)
    success_text: ClassVar[str] = ""
    failed_retries_text: ClassVar[str] = ""
    failed_text: ClassVar[str] = ""
    # smtp_alert bodies (keepalived's per-checker texts)
    alert_up: ClassVar[str] = "=> CHECK succeed on service <="
    alert_down: ClassVar[str] = "=> CHECK failed on service <="

    def __init__(self, spec: model.Checker, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False) -> None:
        self.spec = spec
        self.target = target
        self.hub = hub
        self.co = ConnOpts.of(spec, target)
        self.delay_loop = spec.delay_loop
        self.retry = spec.retry
        self.delay_before_retry = spec.delay_before_retry
        self.alpha = spec.alpha
        self.log_all = spec.log_all_failures or log_all_failures
        self.is_up = not spec.alpha
        self.has_run = False
        # keepalived (validate_check_config): one failure is enough until the checker has run
        self.retry_it = self.retry
        self.enabled = True
        self.alerter: Alerter | None = None  # set when smtp_alert applies to this real server

    # ---- what subclasses provide

    async def attempt(self) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release long-lived resources (FILE_CHECK's watch)."""

    def carry_from(self, old: Checker) -> None:
        """Reload: take over checker-specific state from the same checker of the old config."""

    # ---- scheduling

    def first_delay(self, rng: random.Random, bootstrap: float = BOOTSTRAP_DELAY) -> float:
        """keepalived's register_checkers_thread: bootstrap + a random part of warmup."""
        warmup = self.spec.warmup if self.spec.warmup is not None else self.delay_loop
        return bootstrap + (warmup * rng.random() if warmup else 0.0)

    async def run_once(self) -> float:
        """One attempt and its epilog; the delay before the next run."""
        if not self.enabled:
            return self.delay_loop
        outcome = await self.attempt()
        return self.epilog(outcome)

    # ---- verdicts

    def fmt(self, text: str) -> str:
        return text.format(rs=self.target.fmt_rs, vs=self.target.fmt_vs, retry=self.retry)

    def log_failure(self, text: str) -> None:
        """A per-attempt failure line: only while up and with log_all_failures."""
        if self.is_up and self.log_all:
            log.info(self.fmt(text))

    def set_state(self, up: bool, alert: str | None = None) -> None:
        """A verdict; with smtp_alert, keepalived mails a change of this checker when it changed
        the real server too (or always, unless no_checker_emails)."""
        was_up = self.is_up
        rs_was_alive = self.hub.alive(self.target.key)
        self.hub.checker_state(self, up)
        if self.alerter is not None and was_up != up:
            alive = self.hub.alive(self.target.key)
            if rs_was_alive != alive or not self.alerter.no_checker_emails:
                self.alerter.rs_alert(self.target, alive, alert or (self.alert_up if up else self.alert_down))

    def epilog(self, outcome: Outcome) -> float:
        """keepalived's tcp_epilog/udp_epilog/icmp_epilog (2.2)."""
        delay = self.delay_loop
        if outcome.ok or ((self.is_up or not self.has_run) and self.retry_it >= self.retry):
            self.retry_it = 0
            if outcome.ok and (not self.is_up or not self.has_run):
                log.info(self.fmt(self.success_text))
                self.set_state(True)
            elif not outcome.ok and (self.is_up or not self.has_run):
                if self.retry and self.has_run:
                    log.info(self.fmt(self.failed_retries_text))
                else:
                    log.info(self.fmt(self.failed_text))
                self.set_state(False)
        elif self.is_up:
            delay = self.delay_before_retry
            self.retry_it += 1
        self.has_run = True
        return delay
