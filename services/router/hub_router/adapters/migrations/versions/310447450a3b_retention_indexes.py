"""retention indexes

Revision ID: 310447450a3b
Revises: d3a9c6e1f7b2

The retention sweep (adapters/retention_store.py) anonymises closed referrals by when they
closed: a partial index holds only the closed Tasks not yet anonymised, so the anonymised ones
piling up over the years are never read again. Routing explanations and applied event ids,
written in time order, get BRIN indexes (next to nothing per insert).
"""

import sqlalchemy as sa
from alembic import op

from hub_common.fhir.task_status import OPEN, sql_in

revision = "310447450a3b"
down_revision = "d3a9c6e1f7b2"
branch_labels = None
depends_on = None

# As in adapters/orm.py (CLOSED_NOT_ANONYMISED), from the shared status vocabulary.
CLOSED_NOT_ANONYMISED = sql_in("status", OPEN, negate=True) + " AND NOT (facts ? 'anonymised')"


def upgrade() -> None:
    op.create_index(
        "ix_tasks_closed_to_anonymise",
        "tasks",
        ["updated_at"],
        schema="router",
        postgresql_where=sa.text(CLOSED_NOT_ANONYMISED),
    )
    op.create_index(
        "ix_decisions_decided_brin",
        "decisions",
        ["decided_at"],
        schema="router",
        postgresql_using="brin",
    )
    op.create_index(
        "ix_processed_events_processed_at",
        "processed_events",
        ["processed_at"],
        schema="router",
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_processed_events_processed_at", table_name="processed_events", schema="router"
    )
    op.drop_index("ix_decisions_decided_brin", table_name="decisions", schema="router")
    op.drop_index("ix_tasks_closed_to_anonymise", table_name="tasks", schema="router")
