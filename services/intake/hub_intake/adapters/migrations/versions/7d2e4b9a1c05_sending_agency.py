"""sending agency

Revision ID: 7d2e4b9a1c05
Revises: 36c988924d62

One source carries many organisations (every housing association, every community group), so
two of them can use the same reference. Intake now keeps who sent each referral, when that is
verified (an HTTP credential or an ODS code), to refuse a clash rather than take it for a
resend. Referrals already recorded get theirs from their ServiceRequest's requester organisation
(the contained resource `requester-org`) where that is an ODS code: the others cannot tell a
credential from a name in the payload, and stay unverified.
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
        sa.Column("sending_agency", sa.Text(), nullable=True),
        schema="intake",
    )
    op.execute(
        "UPDATE intake.referrals AS referral SET sending_agency = ("
        " SELECT (contained -> 'identifier' -> 0 ->> 'system') || '|'"
        " || (contained -> 'identifier' -> 0 ->> 'value')"
        " FROM jsonb_array_elements(referral.service_request -> 'contained') AS contained"
        " WHERE contained ->> 'id' = 'requester-org'"
        " AND contained -> 'identifier' -> 0 ->> 'system'"
        " = 'https://fhir.nhs.uk/Id/ods-organization-code' LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_column("referrals", "sending_agency", schema="intake")
