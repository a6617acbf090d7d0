"""task pages by cursor

Revision ID: 4f822c0f529d
Revises: 5c8e2a91d4f7

`GET /fhir/Task` pages with a cursor on (updated_at, referral_id): many Tasks share one
updated_at (a batch is routed in one transaction), so the id breaks the tie. The task-list
indexes gain the id, so a page is still read from an index in order and stops at its size.
"""

from alembic import op

revision = "4f822c0f529d"
down_revision = "5c8e2a91d4f7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tasks_owner_updated", table_name="tasks", schema="router")
    op.drop_index("ix_tasks_updated", table_name="tasks", schema="router")
    op.create_index(
        "ix_tasks_owner_updated",
        "tasks",
        ["owner", "updated_at", "referral_id"],
        unique=False,
        schema="router",
    )
    op.create_index(
        "ix_tasks_updated", "tasks", ["updated_at", "referral_id"], unique=False, schema="router"
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_updated", table_name="tasks", schema="router")
    op.drop_index("ix_tasks_owner_updated", table_name="tasks", schema="router")
    op.create_index(
        "ix_tasks_owner_updated", "tasks", ["owner", "updated_at"], unique=False, schema="router"
    )
    op.create_index("ix_tasks_updated", "tasks", ["updated_at"], unique=False, schema="router")
