"""service level timers

Revision ID: d3a9c6e1f7b2
Revises: d2a7c41e9b06

One row per accepted referral: when it was accepted, reached and closed, which alerts were
raised, and the next deadline to check. The sweep reads only rows with a deadline pending
(a partial index), never the closed referrals that pile up over the years.

Referrals already accepted get a row with their last change as the acceptance time (a lenient
guess: it never raises a breach earlier than the true one would) and a deadline of now, so the
first sweep works out their real one.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hub_common.fhir.task_status import CONTACT_MADE, WORKING, sql_in

revision = "d3a9c6e1f7b2"
down_revision = "d2a7c41e9b06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_timers",
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("borough", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "raised", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("referral_id"),
        schema="router",
    )
    op.create_index(
        "ix_sla_timers_next_due",
        "sla_timers",
        ["next_due_at"],
        unique=False,
        schema="router",
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
    )
    op.execute(
        "insert into router.sla_timers"  # noqa: S608 (the vocabulary's constants only)
        " (referral_id, borough, accepted_at, first_contact_at, next_due_at)"
        " select referral_id, facts->'route'->>'borough', updated_at,"
        f" case when {sql_in('business_status', CONTACT_MADE)}"
        " then updated_at end, updated_at"
        f" from router.tasks where {sql_in('status', WORKING)}"
    )


def downgrade() -> None:
    op.drop_index("ix_sla_timers_next_due", table_name="sla_timers", schema="router")
    op.drop_table("sla_timers", schema="router")
