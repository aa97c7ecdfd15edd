"""The golden captures in tests/golden (made by tests/golden/capture.py from real keepalived 2.2.7)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


@dataclass(frozen=True)
class GoldenCase:
    name: str
    data: bytes  # VRRP message for kind "vrrp"; whole Ethernet frame for "garp" and "na"
    fields: dict[str, Any]  # NAME.json: the expected decoded fields

    @property
    def kind(self) -> str:
        return str(self.fields["kind"])


def golden_cases(kind: str | None = None) -> list[GoldenCase]:
    """Every golden case, sorted by name; kind = "vrrp", "garp" or "na" to select."""
    cases = []
    for js in sorted(GOLDEN_DIR.glob("*.json")):
        fields = json.loads(js.read_text())
        if kind is None or fields["kind"] == kind:
            cases.append(GoldenCase(js.stem, bytes.fromhex(js.with_suffix(".hex").read_text()), fields))
    return cases
