"""erasure and restriction requests, restrictions (issue 17 part 2)

Revision ID: caf1a531c36d
Revises: 88018c42b548
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "caf1a531c36d"
down_revision = "88018c42b548"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_protection_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("referral_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("episode_ids", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("restriction_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "applied",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("request_id"),
        schema="notifier",
    )
    op.create_table(
        "restrictions",
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column(
            "restricted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("subject_id", "request_id"),
        schema="notifier",
    )
    op.create_index(
        "ix_notifier_restrictions_request",
        "restrictions",
        ["request_id"],
        unique=False,
        schema="notifier",
    )


def downgrade() -> None:
    op.drop_table("restrictions", schema="notifier")
    op.drop_table("data_protection_requests", schema="notifier")
