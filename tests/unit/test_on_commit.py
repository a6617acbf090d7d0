"""hub_common.storage.on_commit: work given to a session runs once its transaction commits,
a keyed one once however often it was given, and none of it after a rollback."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from hub_common.storage.on_commit import after_commit


def test_keyed_work_runs_once_per_commit_unkeyed_each_time_and_none_after_rollback() -> None:
    ran: list[str] = []
    with Session(create_engine("sqlite://")) as session:
        session.execute(text("select 1"))
        for _ in range(3):  # a batch staging outbox rows message by message
            after_commit(session, lambda: ran.append("kick"), key=("kick", "outbox"))
            after_commit(session, lambda: ran.append("count"))
        assert ran == []  # not yet committed
        session.commit()
        assert sorted(ran) == ["count", "count", "count", "kick"]

        session.execute(text("select 1"))
        after_commit(session, lambda: ran.append("rolled back"), key="k")
        session.rollback()
        session.execute(text("select 1"))
        session.commit()
        assert "rolled back" not in ran
