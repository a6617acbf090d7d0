"""care plans

Revision ID: d2a7c41e9b06
Revises: b5e9d2c4a813

Every version of a referral's personalised care and support plan, kept whole (issue 13).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "d2a7c41e9b06"
down_revision = "b5e9d2c4a813"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_plans",
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan", postgresql.JSONB(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", "version"),
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("care_plans", schema="router")
