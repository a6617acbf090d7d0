"""Work that may happen only once a session's transaction has committed, and never if it rolls
back: a domain metric counted (observability.metrics.count_on_commit), this process's outbox
relay woken (messaging.outbox.staged).

One pair of session listeners for all of it. A callback given a `key` runs once per
transaction however often it is given (a batch that stages outbox rows message by message
wakes the relay once); one without runs each time it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_PENDING = "hub_after_commit"


def after_commit(
    session: AsyncSession | Session, callback: Callable[[], None], key: Hashable | None = None
) -> None:
    """Call `callback` when `session`'s transaction commits; forget it if it rolls back."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    pending: dict[Hashable, Callable[[], None]] = sync.info.setdefault(_PENDING, {})
    pending[object() if key is None else key] = callback


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    for callback in session.info.pop(_PENDING, {}).values():
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
