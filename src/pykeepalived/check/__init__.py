"""Health checkers (keepalived's keepalived/check/check_*.c), run by the checker process.

One file per checker (tcp, http for HTTP_GET/SSL_GET, smtp, dns, udp, ping, misc, file),
`base.Checker` with keepalived's retry/epilog rules, `scheduler.Scheduler` (one heap, one
timer for all checkers), `hub.HealthHub` (per real server verdicts, weights, notify_up /
notify_down, and the results stream), `service.CheckerService` (build from the config model
and run), and `genhash` (`pykeepalived genhash` / `-T`).
"""

from pykeepalived.check.common import RealServerKey, Target
from pykeepalived.check.hub import HealthHub, RealServerHealth
from pykeepalived.check.service import CheckerService, build_checkers

__all__ = ["CheckerService", "HealthHub", "RealServerHealth", "RealServerKey", "Target", "build_checkers"]
