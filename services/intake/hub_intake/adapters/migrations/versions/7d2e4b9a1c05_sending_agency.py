"""sending agency

Revision ID: 7d2e4b9a1c05
Revises: 36c988924d62

One source carries many organisations (every housing association, every community group), so
two of them can use the same reference. Intake now keeps who sent each referral, to refuse a
clash rather than take it for a resend. Referrals already recorded get theirs from their
ServiceRequest's requester organisation (the contained resource `requester-org`).
"""

import sqlalchemy as sa
from alembic import op

revision = "7d2e4b9a1c05"
down_revision = "36c988924d62"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "referrals",
        sa.Column("sending_agency", sa.String(length=300), nullable=True),
        schema="intake",
    )
    op.execute(
        "UPDATE intake.referrals AS referral SET sending_agency = ("
        " SELECT (contained -> 'identifier' -> 0 ->> 'system') || '|'"
        " || (contained -> 'identifier' -> 0 ->> 'value')"
        " FROM jsonb_array_elements(referral.service_request -> 'contained') AS contained"
        " WHERE contained ->> 'id' = 'requester-org' LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_column("referrals", "sending_agency", schema="intake")
