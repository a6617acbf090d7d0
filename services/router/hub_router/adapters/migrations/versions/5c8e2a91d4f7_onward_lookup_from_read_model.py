"""onward referrals look services up in the directory read model

Revision ID: 5c8e2a91d4f7
Revises: e7b41c9a2f58

Onward referral kept its own small table of which organisation runs each directory service
until the router had a read model of the whole directory (`directory_services`); it now reads
that, so its table and consumer go.
"""

import sqlalchemy as sa
from alembic import op

revision = "5c8e2a91d4f7"
down_revision = "e7b41c9a2f58"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("onward_services", schema="router")


def downgrade() -> None:
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
