"""`referral-hub referrals replay-rejected`, as intake runs it: its own engine, its formats.

The command runs beside the live service and shares its database; what the replay accepts is
written to the outbox, and the running intake's relay publishes it.
"""

from __future__ import annotations

from collections.abc import Callable

from hub_common.storage.db import make_engine, make_session_factory
from hub_intake.adapters.formats import registered_formats
from hub_intake.config import IntakeSettings
from hub_intake.service_layer.intake import IntakeService
from hub_intake.service_layer.replay import ReplayReport, replay_rejections


async def replay_rejected(
    source: str | None,
    *,
    settings: IntakeSettings | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay every rejection not yet replayed (of `source`, or all), oldest first."""
    settings = settings or IntakeSettings()
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        sessions = make_session_factory(engine)
        service = IntakeService(sessions, registered_formats(), settings.topics)
        return await replay_rejections(sessions, service, source, on_progress=on_progress)
    finally:
        await engine.dispose()
