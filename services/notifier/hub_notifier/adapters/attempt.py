"""The result of one delivery attempt, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attempt:
    """How one try went; `error` is short and content-free (`HTTP 503`, `timeout`)."""

    ok: bool
    error: str | None = None
