"""Which versions of a format the hub reads: one check for every format with a version marker.

A message that names a version the hub does not know is refused whole, before any field is
read: reading `community-referral/9` as version 1 could accept a referral whose fields mean
something else. A message without a marker is read as the format's current version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub_intake.adapters.formats.base import UnreadableMessage

_SHOWN = 60  # characters of an unknown marker repeated back: enough to recognise it


@dataclass(frozen=True)
class SchemaVersions:
    """The versions of one format the hub accepts, and the field where a message names its own."""

    accepted: tuple[str, ...]
    field: str = "schema"

    @property
    def current(self) -> str:
        return self.accepted[-1]

    def check(self, document: Mapping[str, Any]) -> None:
        """Raise UnreadableMessage naming `field` unless the marker is absent or accepted."""
        marker = document.get(self.field)
        if marker is None or (isinstance(marker, str) and marker.strip() in self.accepted):
            return
        shown = marker if isinstance(marker, str) else f"a {type(marker).__name__}"
        if len(shown) > _SHOWN:
            shown = shown[:_SHOWN] + "…"
        raise UnreadableMessage(
            f"unknown schema version {shown!r}; this hub accepts {', '.join(self.accepted)}",
            field=self.field,
        )
