"""retention indexes

Revision ID: 2dbc11690297
Revises: f6c2a8d4b913

The retention sweep (adapters/retention_store.py) finds expired rows by time. These tables are
written in time order, so BRIN indexes (a few pages each, next to nothing per insert) find the
old block ranges without a scan of the whole table every sweep. Closed referrals are found by
the Task's `last_updated` (already indexed); a row that still has none gets its receipt time,
so no referral escapes the schedule.
"""

from alembic import op

revision = "2dbc11690297"
down_revision = "f6c2a8d4b913"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_service_requests_received_brin", "service_requests", "received_at"),
    ("ix_rejections_received_brin", "rejections", "received_at"),
    ("ix_deliveries_created_brin", "deliveries", "created_at"),
    ("ix_processed_events_processed_at", "processed_events", "processed_at"),
)


def upgrade() -> None:
    op.execute("UPDATE notifier.tasks SET last_updated = updated_at WHERE last_updated IS NULL")
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], schema="notifier", postgresql_using="brin")


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table, schema="notifier")
