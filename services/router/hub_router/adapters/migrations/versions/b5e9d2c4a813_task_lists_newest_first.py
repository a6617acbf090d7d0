"""task lists newest first

Revision ID: b5e9d2c4a813
Revises: a8c3d5e7f912

A worker's task list and a coordinator's are newest first. With no index on updated_at, each
request sorted every task in the caller's scope, growing with every referral ever made. The
owner/status index it replaces served only the caseload count and the waiting list, which have
partial indexes of their own now.
"""

from alembic import op

revision = "b5e9d2c4a813"
down_revision = "a8c3d5e7f912"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tasks_owner_updated", "tasks", ["owner", "updated_at"], unique=False, schema="router"
    )
    op.create_index("ix_tasks_updated", "tasks", ["updated_at"], unique=False, schema="router")
    op.drop_index("ix_tasks_owner_status", table_name="tasks", schema="router")


def downgrade() -> None:
    op.create_index(
        "ix_tasks_owner_status", "tasks", ["owner", "status"], unique=False, schema="router"
    )
    op.drop_index("ix_tasks_updated", table_name="tasks", schema="router")
    op.drop_index("ix_tasks_owner_updated", table_name="tasks", schema="router")
