"""subscription secret rotation and heartbeats

Revision ID: b94e1c7d20a6
Revises: 5e8b2f71c0d4

A subscription can rotate its signing secret: the old one keeps signing beside the new one
until `previous_secret_until`, so a receiver can switch without refusing a delivery. A
rest-hook can ask for heartbeats (the Backport's `heartbeatPeriod`): `last_notified_at` is
when the hub last queued anything for it, set in the same row update that numbers events, so
the heartbeat sweep and the event numbering serialise on the subscription row.
"""

import sqlalchemy as sa
from alembic import op

revision = "b94e1c7d20a6"
down_revision = "5e8b2f71c0d4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        schema="notifier",
    )
    op.add_column(
        "subscriptions",
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        schema="notifier",
    )
    op.add_column(
        "subscriptions",
        sa.Column("heartbeat_seconds", sa.Integer(), nullable=True),
        schema="notifier",
    )
    op.add_column(
        "subscriptions",
        sa.Column(
            "last_notified_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        schema="notifier",
    )


def downgrade() -> None:
    for column in ("last_notified_at", "heartbeat_seconds", "previous_secret_until"):
        op.drop_column("subscriptions", column, schema="notifier")
    op.drop_column("subscriptions", "previous_secret", schema="notifier")
