"""person links

Revision ID: a7d3e90c5b21
Revises: 2dbc11690297

One person's referrals from several agencies: each referral's normalised demographics and
the person it belongs to, and the uncertain pairs waiting for a coordinator. Referrals
recorded before this revision are linked as they are read again (`referral-hub` has no
backfill: they keep their own person until then).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "a7d3e90c5b21"
down_revision = "2dbc11690297"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_records",
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("link_basis", sa.String(length=20), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("family", sa.String(length=200), nullable=False),
        sa.Column("given", postgresql.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("referral_id"),
        schema="notifier",
    )
    for column in ("person_id", "nhs_number", "birth_date", "postcode"):
        op.create_index(
            f"ix_notifier_person_records_{column}",
            "person_records",
            [column],
            unique=False,
            schema="notifier",
        )
    op.create_table(
        "person_reviews",
        sa.Column("review_id", sa.String(length=36), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("other_referral_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("swapped_names", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("review_id"),
        sa.UniqueConstraint("referral_id", "other_referral_id", name="uq_person_reviews_pair"),
        schema="notifier",
    )
    op.create_index(
        "ix_person_reviews_pending",
        "person_reviews",
        ["created_at"],
        unique=False,
        schema="notifier",
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_person_reviews_pending", table_name="person_reviews", schema="notifier")
    op.drop_table("person_reviews", schema="notifier")
    for column in ("person_id", "nhs_number", "birth_date", "postcode"):
        op.drop_index(
            f"ix_notifier_person_records_{column}", table_name="person_records", schema="notifier"
        )
    op.drop_table("person_records", schema="notifier")
