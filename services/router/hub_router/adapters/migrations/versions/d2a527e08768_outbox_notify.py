"""outbox notify

Revision ID: d2a527e08768
Revises: b59d6989671e

The outbox relay used to look for new rows every 0.25 s, busy when nothing happened. A trigger
now notifies the outbox's channel in the writer's transaction, and the relay, LISTENing, wakes
at commit (hub_common.storage.wakeup).
"""

from alembic import op

from hub_common.storage.wakeup import drop_notify_on_insert, notify_on_insert

revision = "d2a527e08768"
down_revision = "b59d6989671e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in notify_on_insert("router", "outbox"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_on_insert("router", "outbox"):
        op.execute(statement)
