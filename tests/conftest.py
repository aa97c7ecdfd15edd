"""Root test configuration: the namespace harness plugin (marker skips, `lab` fixture, stale cleanup)."""

pytest_plugins = ["harness.fixtures"]
