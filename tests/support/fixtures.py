"""Example agency payloads, copied into the project (tests never read ../shared)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def inbound(name: str) -> bytes:
    return (FIXTURES / "inbound" / name).read_bytes()
