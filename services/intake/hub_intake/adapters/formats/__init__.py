"""The registry of agency formats: adding one is a new module and one line here."""

from __future__ import annotations

from hub_intake.adapters.formats.base import InboundFormat
from hub_intake.adapters.formats.community import CommunityFormat


def registered_formats() -> dict[str, InboundFormat]:
    formats: list[InboundFormat] = [CommunityFormat()]
    return {fmt.source: fmt for fmt in formats}
