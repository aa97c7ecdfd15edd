"""Exit codes and the exceptions that carry them (keepalived's lib/scheduler.h values)."""

from __future__ import annotations

# Daemon exit statuses.
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG = 2
EXIT_MISSING_PERMISSION = 4
EXIT_NO_CONFIG = 6
EXIT_PROGRAM_ERROR = 70

# `-t/--config-test` exit statuses (keepalived's config_test_exit; man8's 3/4/5 is a doc bug).
CONFIG_TEST_OK = 0
CONFIG_TEST_FATAL = 4        # config can't run: missing file under -e, bad interface, fatal error
CONFIG_TEST_ERROR = 5        # errors keepalived works around: unknown keyword, bad value, brace
CONFIG_TEST_SECURITY = 6     # scripts without enable_script_security; also failed include checks


class PykeepalivedError(Exception):
    """Base for errors reported to the operator as one line, never as a traceback."""

    exit_code = EXIT_FATAL


class UsageError(PykeepalivedError):
    """Bad or unsupported command-line usage."""

    exit_code = EXIT_FATAL
