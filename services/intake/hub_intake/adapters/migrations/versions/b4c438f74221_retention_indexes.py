"""retention indexes

Revision ID: b4c438f74221
Revises: 9b61f3e8d4a7

The retention sweep (adapters/retention_store.py) finds expired rows by time. These tables are
written in time order, so BRIN indexes (a few pages each, next to nothing per insert) find the
old block ranges without a scan of the whole table every sweep.
"""

from alembic import op

revision = "b4c438f74221"
down_revision = "9b61f3e8d4a7"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_referrals_received_brin", "referrals", "received_at"),
    ("ix_rejections_received_brin", "rejections", "received_at"),
    ("ix_processed_events_processed_at", "processed_events", "processed_at"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], schema="intake", postgresql_using="brin")


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table, schema="intake")
