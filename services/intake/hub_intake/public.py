"""What the rest of the hub may import from intake: this module and nothing else.

The CLI, the benchmarks and the other services reach intake through its HTTP API, its topics,
or the names below; everything else under `hub_intake` may change without notice
(`tests/unit/test_package_reach.py` fails when another package imports past this module).
Each name is here because an operator's command or a measurement needs it:

- running it: `build_app`, `IntakeSettings`, `MIGRATIONS` (`referral-hub db upgrade`, the
  contract documents of `schemas write`);
- `replay_rejected` and its `ReplayReport` (`referral-hub referrals replay-rejected`);
- its example messages for `schemas/examples/` (`example_messages`), and each registered
  agency format's JSON Schema and example message (`inbound_documents`);
- `referring_agencies`: which organisations an agency message refers for, as the accepted
  referrals would name them (the webhook benchmark subscribes one webhook for each).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub_intake.adapters.formats import registered_formats
from hub_intake.bootstrap import build_app
from hub_intake.config import MIGRATIONS, IntakeSettings
from hub_intake.entrypoints.replay_command import replay_rejected
from hub_intake.examples import example_messages, inbound_documents
from hub_intake.service_layer.intake_events import sending_agency
from hub_intake.service_layer.replay import ReplayReport


def referring_agencies(source: str, body: bytes) -> set[str]:
    """`system|value` of every organisation the message from `source` refers for."""
    now = datetime.now(UTC)
    readings = registered_formats()[source].read(body, now)
    return {agency for reading in readings if (agency := sending_agency(source, reading))}


__all__ = [
    "MIGRATIONS",
    "IntakeSettings",
    "ReplayReport",
    "build_app",
    "example_messages",
    "inbound_documents",
    "referring_agencies",
    "replay_rejected",
]
