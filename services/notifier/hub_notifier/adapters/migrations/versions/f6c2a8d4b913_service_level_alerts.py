"""service level alerts

Revision ID: f6c2a8d4b913
Revises: e3b7c51d09a2

The router's service level alerts (hub.alerts), kept for coordinators: one row per referral,
rule and level, open until a resolving alert arrives; and the daily digests already sent.
"""

import sqlalchemy as sa
from alembic import op

revision = "f6c2a8d4b913"
down_revision = "e3b7c51d09a2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("borough", sa.String(length=40), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("referral_id", "rule", "level"),
        schema="notifier",
    )
    op.create_index(
        "ix_alerts_open_borough",
        "alerts",
        ["borough", "raised_at"],
        unique=False,
        schema="notifier",
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "alert_digests",
        sa.Column("borough", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("open_alerts", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("borough", "day"),
        schema="notifier",
    )


def downgrade() -> None:
    op.drop_table("alert_digests", schema="notifier")
    op.drop_index("ix_alerts_open_borough", table_name="alerts", schema="notifier")
    op.drop_table("alerts", schema="notifier")
