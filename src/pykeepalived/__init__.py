"""pykeepalived: a drop-in replacement for keepalived."""

__version__ = "0.1.0"
# The keepalived release whose behaviour (wire, files, logs, exit codes) we match.
KEEPALIVED_COMPAT = "2.2.7"
