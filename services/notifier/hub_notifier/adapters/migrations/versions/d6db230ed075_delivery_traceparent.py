"""delivery traceparent

Revision ID: d6db230ed075
Revises: b94e1c7d20a6

A webhook delivery is sent later, by the delivery worker, outside the transaction that recorded
the change: the change's W3C trace context is kept with the row so the POST joins the
referral's trace (hub_common.observability.tracing). Nullable: rows from before it simply start no span chain.
"""

import sqlalchemy as sa
from alembic import op

revision = "d6db230ed075"
down_revision = "b94e1c7d20a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "deliveries",
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        schema="notifier",
    )


def downgrade() -> None:
    op.drop_column("deliveries", "traceparent", schema="notifier")
