"""deliveries by referral

Revision ID: 88018c42b548
Revises: d6db230ed075

A subject access export lists every delivery sent about a person's referrals: without an index
on the referral that is a scan of every delivery the hub has made in a year.
"""

from alembic import op

revision = "88018c42b548"
down_revision = "d6db230ed075"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_referral", "deliveries", ["referral_id"], unique=False, schema="notifier"
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_referral", table_name="deliveries", schema="notifier")
