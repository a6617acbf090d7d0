"""outbox notify

Revision ID: d386e4ff00fb
Revises: b4c438f74221

The outbox relay used to look for new rows every 0.25 s, busy when nothing happened. A trigger
now notifies the outbox's channel in the writer's transaction, and the relay, LISTENing, wakes
at commit (hub_common.storage.wakeup).
"""

from alembic import op

from hub_common.storage.wakeup import drop_notify_on_insert, notify_on_insert

revision = "d386e4ff00fb"
down_revision = "b4c438f74221"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in notify_on_insert("intake", "outbox"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_on_insert("intake", "outbox"):
        op.execute(statement)
