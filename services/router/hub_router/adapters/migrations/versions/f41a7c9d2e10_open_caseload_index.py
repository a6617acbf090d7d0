"""open caseload index

Revision ID: f41a7c9d2e10
Revises: c784e6c2370d

Every routing decision counts each worker's open referrals. Through ix_tasks_owner_status that
count read every task anyone ever owned, closed ones too: 25 ms a batch at 200,000 tasks, and
growing for good. This index holds only the open, owned tasks, so the count stays the size of
the caseloads. (The statuses are written out: the ones open when this revision was made.)
"""

import sqlalchemy as sa
from alembic import op

from hub_common.fhir.task_status import OPEN, sql_in

revision = "f41a7c9d2e10"
down_revision = "c784e6c2370d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tasks_open_caseload",
        "tasks",
        ["owner"],
        unique=False,
        schema="router",
        postgresql_where=sa.text("owner IS NOT NULL AND " + sql_in("status", OPEN)),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_open_caseload", table_name="tasks", schema="router")
