"""TCP_CHECK: a TCP connection completes within connect_timeout (keepalived's check_tcp.c)."""

from __future__ import annotations

from pykeepalived.check.base import OK, Checker, Outcome
from pykeepalived.check.common import ConnectError, tcp_connect


class TcpChecker(Checker):
    kind = "TCP_CHECK"
    alert_up = "=> TCP CHECK succeed on service <="
    alert_down = "=> TCP CHECK failed on service <="
    success_text = "TCP connection to {rs} success."
    failed_retries_text = "TCP_CHECK on service {rs} failed after {retry} retries."
    failed_text = "TCP_CHECK on service {rs} failed."

    async def attempt(self) -> Outcome:
        try:
            sock = await tcp_connect(self.co)
        except ConnectError as e:
            self.log_failure("TCP connection to {rs} timedout." if e.timeout else "TCP connection to {rs} failed.")
            return Outcome(False, str(e), e.timeout)
        except OSError as e:  # bind failures and the like
            self.log_failure("TCP connection to {rs} failed.")
            return Outcome(False, e.strerror)
        sock.close()
        return OK
