"""notify only for commits nobody announces

Revision ID: c1cfa59e7d33
Revises: d386e4ff00fb

Each service now wakes its own loops after a commit, forwarding the kick to another replica
when needed (hub_common.storage.wakeup), and opts its connections out of the NOTIFY triggers
with the session setting `hub.notify = off`: a NOTIFY in the writer's transaction held a
cluster-wide lock through its commit, and doubled p99 latency at 100 referrals/s. The triggers
stay for every other writer (CLI commands, an operator's psql).
"""

from alembic import op

from hub_common.storage.wakeup import notify_function

revision = "c1cfa59e7d33"
down_revision = "d386e4ff00fb"
branch_labels = None
depends_on = None

TRIGGERS = [("outbox", "true")]


def upgrade() -> None:
    for table, when in TRIGGERS:
        op.execute(notify_function("intake", table, when, unless_announced=True))


def downgrade() -> None:
    for table, when in TRIGGERS:
        op.execute(notify_function("intake", table, when))
