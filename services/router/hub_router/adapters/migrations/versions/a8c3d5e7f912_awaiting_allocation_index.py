"""awaiting allocation index

Revision ID: a8c3d5e7f912
Revises: f41a7c9d2e10

A coordinator's waiting list and a rebalance read the referrals awaiting allocation, oldest
first. Through ix_tasks_owner_status that read every task ever made with status `requested`
and no owner's index order to help; this index holds only those waiting, in the order wanted.
(The statuses come from the shared vocabulary, hub_common/fhir/task_status.py.)
"""

import sqlalchemy as sa
from alembic import op

from hub_common.fhir.task_status import BusinessStatus, TaskStatus

revision = "a8c3d5e7f912"
down_revision = "f41a7c9d2e10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tasks_awaiting_allocation",
        "tasks",
        ["updated_at"],
        unique=False,
        schema="router",
        postgresql_where=sa.text(
            f"status = '{TaskStatus.REQUESTED.value}'"
            f" AND business_status = '{BusinessStatus.AWAITING_ALLOCATION.value}'"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_awaiting_allocation", table_name="tasks", schema="router")
