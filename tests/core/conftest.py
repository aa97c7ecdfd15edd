"""Fixtures shared by the core tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Our log lines (INFO and up, every pykeepalived logger), as a live list."""
    logger = logging.getLogger("pykeepalived")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)
