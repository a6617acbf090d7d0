"""pending e-mail stream index

Revision ID: e3b7c51d09a2
Revises: d58a291785d5

A delivery is claimable only when no earlier delivery of its stream is pending. For a
subscription the stream is found through ix_deliveries_pending_order; for the e-mails about
one referral (they belong to no subscription) this index finds it, so a claim stays a few
index probes however many e-mails wait for a mail server to come back.
"""

import sqlalchemy as sa
from alembic import op

revision = "e3b7c51d09a2"
down_revision = "d58a291785d5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_pending_email_stream",
        "deliveries",
        ["referral_id", "seq"],
        unique=False,
        schema="notifier",
        postgresql_where=sa.text("status = 'pending' AND subscription_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending_email_stream", table_name="deliveries", schema="notifier")
