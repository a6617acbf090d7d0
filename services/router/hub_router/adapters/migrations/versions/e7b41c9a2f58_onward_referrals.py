"""onward referrals

Revision ID: e7b41c9a2f58
Revises: 2d1d7403be55

Onward referrals from link workers to community organisations (one row each, with the onward
ServiceRequest and the latest Task snapshot), and the little of the services directory they
need (a service's name and its organisation).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "e7b41c9a2f58"
down_revision = "2d1d7403be55"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "onward_referrals",
        sa.Column("onward_id", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("business_status", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("record", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("task", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("onward_id"),
        schema="router",
    )
    op.create_index(
        "ix_onward_referrals_referral", "onward_referrals", ["referral_id"], schema="router"
    )
    op.create_index(
        "ix_onward_referrals_organisation",
        "onward_referrals",
        ["organisation_id", "updated_at"],
        schema="router",
    )
    op.create_index(
        "ix_onward_referrals_next_check",
        "onward_referrals",
        ["next_check_at"],
        schema="router",
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
    )
    op.create_table(
        "onward_services",
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("service_name", sa.String(length=500), nullable=False),
        sa.Column("organisation_id", sa.String(length=200), nullable=False),
        sa.Column("organisation_name", sa.String(length=500), nullable=False),
        sa.Column("organisation_email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("service_id"),
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("onward_services", schema="router")
    op.drop_index("ix_onward_referrals_next_check", table_name="onward_referrals", schema="router")
    op.drop_index(
        "ix_onward_referrals_organisation", table_name="onward_referrals", schema="router"
    )
    op.drop_index("ix_onward_referrals_referral", table_name="onward_referrals", schema="router")
    op.drop_table("onward_referrals", schema="router")
