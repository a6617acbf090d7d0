"""person received index

Revision ID: 9b61f3e8d4a7
Revises: 7d2e4b9a1c05

Each inbound batch looks up the first referral of every person in it, to keep them with their
link worker. Through ix_referrals_person_key that read all of a person's referrals and sorted
them, growing with every referral they ever had; with this index it is one probe per person,
and the episode comes from the index itself.
"""

from alembic import op

revision = "9b61f3e8d4a7"
down_revision = "7d2e4b9a1c05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_referrals_person_received",
        "referrals",
        ["person_key", "received_at"],
        unique=False,
        schema="intake",
        postgresql_include=["episode_id"],
    )
    op.drop_index("ix_referrals_person_key", table_name="referrals", schema="intake")


def downgrade() -> None:
    op.create_index(
        "ix_referrals_person_key", "referrals", ["person_key"], unique=False, schema="intake"
    )
    op.drop_index("ix_referrals_person_received", table_name="referrals", schema="intake")
