"""FHIR search parameters the read API understands, parsed at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PREFIXES = ("gt", "ge", "lt", "le", "eq")


@dataclass(frozen=True)
class InstantBound:
    """One `_lastUpdated` condition, e.g. `gt2026-01-01T00:00:00Z`."""

    prefix: str
    instant: datetime


def parse_instant_bound(value: str) -> InstantBound:
    """Raises ValueError for anything but a prefix (optional, `eq` by default) and an instant."""
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"_lastUpdated: {value!r} is not [gt|ge|lt|le|eq]<instant>") from None
    return InstantBound(prefix, instant if instant.tzinfo else instant.replace(tzinfo=UTC))


def parse_token_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated list (FHIR's OR), blanks dropped."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
