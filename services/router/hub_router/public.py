"""What the rest of the hub may import from the router: this module and nothing else.

The CLI, the benchmarks and the other services reach the router through its HTTP API, its
topics, or the names below; everything else under `hub_router` may change without notice
(`tests/unit/test_package_reach.py` fails when another package imports past this module).
Each name is here because an operator's command or a measurement needs it:

- running it: `build_app`, `RouterSettings`, `MIGRATIONS` (`referral-hub db upgrade`, the
  contract documents of `schemas write`, the benchmarks' own router);
- the roster file it takes as input: `read_roster` and its columns (`referral-hub workers
  load`, the demo and benchmark rosters), and `to_practitioner_role`, the event each row
  becomes on `linkworkers.directory`;
- its example messages for `schemas/examples/` (`example_messages`);
- the outbox table and relay lock, for the benchmark that times one relay draining it, and
  `directory_size`, for the benchmark that waits for the directory to load.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub_router.adapters import orm
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.adapters.roster_file import (
    COLUMN_HELP,
    COLUMNS,
    RosterEntry,
    RosterError,
    read_roster,
)
from hub_router.bootstrap import OUTBOX_LOCK_KEY, build_app
from hub_router.config import MIGRATIONS, RouterSettings
from hub_router.examples import example_messages

OUTBOX = orm.outbox
"""The router's outbox table (what its relay publishes from)."""


async def directory_size(app: Any) -> int:
    """How many community services the running router `app` holds in its directory."""
    async with app.state.directory._sessions() as session:
        result = await session.execute(select(func.count()).select_from(orm.directory_services))
        return int(result.scalar_one())


__all__ = [
    "COLUMNS",
    "COLUMN_HELP",
    "MIGRATIONS",
    "OUTBOX",
    "OUTBOX_LOCK_KEY",
    "RosterEntry",
    "RosterError",
    "RouterSettings",
    "build_app",
    "directory_size",
    "example_messages",
    "read_roster",
    "to_practitioner_role",
]
