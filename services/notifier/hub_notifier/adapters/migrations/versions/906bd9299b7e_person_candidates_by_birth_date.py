"""person candidates by birth date, from the index alone

Revision ID: 906bd9299b7e
Revises: 6cab4da66440

A birth date is shared by ever more people as history grows: at a million referrals every new
person had 35 candidates by birth date, each a heap read, and each scored under the linking
lock (75 ms a batch of 50 ServiceRequests against 2 ms with no history). A candidate by birth
date must now share a second field too (a name's initial, the postcode or the phone), and
this index carries those fields, so PostgreSQL keeps or drops each from the index alone. It
replaces the plain birth date index, which it covers.
"""

from alembic import op

revision = "906bd9299b7e"
down_revision = "6cab4da66440"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_person_records_born",
        "person_records",
        ["birth_date"],
        unique=False,
        schema="notifier",
        postgresql_include=["nhs_number", "family", "given", "postcode", "phone", "person_id"],
    )
    op.drop_index(
        "ix_notifier_person_records_birth_date", table_name="person_records", schema="notifier"
    )


def downgrade() -> None:
    op.create_index(
        "ix_notifier_person_records_birth_date",
        "person_records",
        ["birth_date"],
        unique=False,
        schema="notifier",
    )
    op.drop_index("ix_person_records_born", table_name="person_records", schema="notifier")
