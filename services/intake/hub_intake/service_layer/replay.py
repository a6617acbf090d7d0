"""Replaying rejected referrals after a fix (a corrected adapter, a new postcode district...).

Each recorded rejection keeps the agency's original document; replaying feeds it through
intake again exactly as if it had just arrived. Rejections that still fail are left as they
were (nothing new is recorded or published), accepted ones are marked replayed.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.agency_formats import agency_format
from hub_common.jsonio import dumps
from hub_intake.adapters.unit_of_work import Changes, Sessions, changes_for
from hub_intake.service_layer.commands import ReceiveReferrals
from hub_intake.service_layer.intake import IntakeService


@dataclass(frozen=True)
class ReplayReport:
    """How a replay went, in counts (no referral content)."""

    tried: int
    accepted: int
    still_rejected: int


def original_bytes(source: str, original: Any) -> bytes:
    """The agency's document as bytes in its own format again."""
    if isinstance(original, dict) and set(original) == {"base64"}:
        return base64.b64decode(original["base64"])
    if isinstance(original, str):
        return original.encode()
    if agency_format(source).media_type == "text/csv" and isinstance(original, dict):
        # One CSV row, kept as a dict: rebuild a one-row document with its header.
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(original))
        writer.writeheader()
        writer.writerow({key: "" if value is None else value for key, value in original.items()})
        return buffer.getvalue().encode()
    return dumps(original)


async def replay_rejections(
    sessions: Sessions | None,
    service: IntakeService,
    source: str | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    changes: Changes | None = None,
) -> ReplayReport:
    """Replay every rejection not yet replayed, oldest first; `on_progress(done, total)` is
    told the total once the rejections are listed, then after each one (the CLI's bar)."""
    progress = on_progress or (lambda done, total: None)
    units = changes_for(sessions, changes)
    async with units() as uow:
        rows = await uow.rejections.not_replayed(source)
    accepted = 0
    progress(0, len(rows))
    for done, row in enumerate(rows, start=1):
        accepted += await _replay_one(units, service, row)
        progress(done, len(rows))
    return ReplayReport(tried=len(rows), accepted=accepted, still_rejected=len(rows) - accepted)


async def _replay_one(units: Changes, service: IntakeService, row: Any) -> int:
    """1 when the rejection is accepted now (and marked replayed), else 0."""
    if not service.knows(row.source):
        return 0
    command = ReceiveReferrals(
        source=row.source,
        body=original_bytes(row.source, row.event.get("original")),
        received_at=datetime.now(UTC),
        replay_of=row.rejection_id,
    )
    try:
        outcomes = await service.receive(command)
    except ValueError:  # still unreadable
        return 0
    if not outcomes or any(o.status == "rejected" for o in outcomes):
        return 0
    async with units() as uow:
        await uow.rejections.mark_replayed(row.rejection_id, datetime.now(UTC))
    return 1
