"""restrictions and held referrals (erasure and restriction, issue 17 part 2)

Revision ID: b59d6989671e
Revises: 4f822c0f529d
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "b59d6989671e"
down_revision = "4f822c0f529d"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
        schema="router",
    )
    op.create_index(
        "ix_restrictions_request", "restrictions", ["request_id"], unique=False, schema="router"
    )
    op.create_table(
        "held_referrals",
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("episode_id", sa.String(length=64), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column(
            "held_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("referral_id"),
        schema="router",
    )
    op.create_index(
        op.f("ix_router_held_referrals_episode_id"),
        "held_referrals",
        ["episode_id"],
        unique=False,
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("held_referrals", schema="router")
    op.drop_table("restrictions", schema="router")
