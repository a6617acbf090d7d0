"""directory services read model

Revision ID: 2d1d7403be55
Revises: 310447450a3b

The community services directory as the router reads it from `directory.services`, with the
capacity organisations set, for link workers to search (issue 14, parts 2 and 5).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2d1d7403be55"
down_revision = "310447450a3b"
branch_labels = None
depends_on = None

SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(organisation_name, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'C')"
)


def upgrade() -> None:
    op.create_table(
        "directory_services",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("directory_id", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("organisation_id", sa.String(200), nullable=False),
        sa.Column("organisation_name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("needs", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("terms", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("days", postgresql.ARRAY(sa.String(3)), nullable=False),
        sa.Column("free", sa.Boolean(), nullable=False),
        sa.Column("minimum_age", sa.Integer()),
        sa.Column("maximum_age", sa.Integer()),
        sa.Column("bundle", postgresql.JSONB(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("capacity", sa.String(16)),
        sa.Column("places_available", sa.Integer()),
        sa.Column("capacity_updated_at", sa.DateTime(timezone=True)),
        sa.Column(
            "search_vector", postgresql.TSVECTOR(), sa.Computed(SEARCH_VECTOR, persisted=True)
        ),
        schema="router",
    )
    op.create_index(
        "ix_directory_services_search",
        "directory_services",
        ["search_vector"],
        postgresql_using="gin",
        schema="router",
    )
    op.create_index(
        "ix_directory_services_needs",
        "directory_services",
        ["needs"],
        postgresql_using="gin",
        schema="router",
    )
    op.create_index(
        "ix_directory_services_organisation",
        "directory_services",
        ["organisation_id"],
        schema="router",
    )
    op.create_table(
        "directory_locations",
        sa.Column(
            "service_id",
            sa.String(64),
            sa.ForeignKey("router.directory_services.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("directory_locations", schema="router")
    op.drop_table("directory_services", schema="router")
