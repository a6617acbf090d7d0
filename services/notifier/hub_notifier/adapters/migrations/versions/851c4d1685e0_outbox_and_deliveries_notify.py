"""outbox and deliveries notify

Revision ID: 851c4d1685e0
Revises: caf1a531c36d

The outbox relay and the delivery worker used to look for work every 0.25 s and 0.5 s, busy
when nothing happened. Triggers now notify each table's channel in the writer's transaction,
and each loop, LISTENing, wakes at commit (hub_common.storage.wakeup). Only deliveries the
worker sends wake it: a Kafka one goes through the outbox.
"""

from alembic import op

from hub_common.storage.wakeup import drop_notify_on_insert, notify_on_insert

revision = "851c4d1685e0"
down_revision = "caf1a531c36d"
branch_labels = None
depends_on = None

TRIGGERS = [
    ("outbox", "true"),
    ("deliveries", "status = 'pending' AND channel IN ('rest-hook', 'email')"),
]


def upgrade() -> None:
    for table, when in TRIGGERS:
        for statement in notify_on_insert("notifier", table, when):
            op.execute(statement)


def downgrade() -> None:
    for table, _ in TRIGGERS:
        for statement in drop_notify_on_insert("notifier", table):
            op.execute(statement)
