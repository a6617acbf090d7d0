"""The router's tables, in its own `router` schema."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from hub_common.fhir.task_status import OPEN, BusinessStatus, TaskStatus, sql_in
from hub_common.storage.db import outbox_table, processed_events_table

SCHEMA = "router"
metadata = MetaData(schema=SCHEMA)

link_workers = Table(
    "link_workers",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("role", JSONB, nullable=False),  # the directory's PractitionerRole, as published
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A worker's caseload: the open referrals they own. Written out, not bound: PostgreSQL uses a
# partial index only where it can prove the query implies the index's condition, which it
# cannot from parameters of a prepared statement.
OPEN_CASELOAD = text("owner IS NOT NULL AND " + sql_in("status", OPEN))

# Referrals no worker would take, waiting for a coordinator (written out for the same reason).
# Closed referrals whose Task the retention sweep has not anonymised yet (adapters/anonymised.py
# marks the facts it keeps): the sweep reads them oldest first from a partial index, so the
# anonymised rows piling up over the years are never scanned again.
CLOSED_NOT_ANONYMISED = text(
    sql_in("status", OPEN, negate=True) + " AND NOT (facts ? 'anonymised')"
)

AWAITING_ALLOCATION = text(
    f"status = '{TaskStatus.REQUESTED.value}'"
    f" AND business_status = '{BusinessStatus.AWAITING_ALLOCATION.value}'"
)

tasks = Table(
    "tasks",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("episode_id", String(64), nullable=False),
    Column("owner", String(64)),
    Column("status", String(32), nullable=False),
    Column("business_status", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("offered_on", Date),  # the working day the current owner's offer counts against
    Column("offer_expires_at", DateTime(timezone=True)),  # set while an offer awaits an answer
    Column("offers", JSONB, nullable=False, server_default="[]"),  # worker ids offered so far
    Column("failed_offers", Integer, nullable=False, server_default="0"),  # declined or unanswered
    Column("facts", JSONB, nullable=False),  # routing facts and requester ids from the request
    Column("task", JSONB, nullable=False),  # the latest Task snapshot published
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A worker's tasks, newest first; and everyone's, for a coordinator (views.search_query),
    # paged by a cursor on (updated_at, referral_id).
    Index("ix_tasks_owner_updated", "owner", "updated_at", "referral_id"),
    Index("ix_tasks_updated", "updated_at", "referral_id"),
    Index("ix_tasks_episode", "episode_id"),
    # Every routing decision counts each worker's caseload: this keeps the count to the open
    # referrals, however many closed ones the years pile up.
    Index("ix_tasks_open_caseload", "owner", postgresql_where=OPEN_CASELOAD),
    # A coordinator's waiting list, oldest first, without reading every referral ever made.
    Index("ix_tasks_awaiting_allocation", "updated_at", postgresql_where=AWAITING_ALLOCATION),
    # Daily limits count the offers each worker got on a day.
    Index("ix_tasks_offered_on_owner", "offered_on", "owner"),
    # The offer sweeper looks only at open offers, soonest deadline first.
    Index(
        "ix_tasks_open_offer_expiry",
        "offer_expires_at",
        postgresql_where=text("offer_expires_at IS NOT NULL"),
    ),
    # The retention sweep's closed referrals still to anonymise, by when they closed.
    Index("ix_tasks_closed_to_anonymise", "updated_at", postgresql_where=CLOSED_NOT_ANONYMISED),
)

care_plans = Table(
    "care_plans",
    metadata,
    # Every version of a referral's personalised care and support plan (domain/care_plan.py),
    # never updated in place. Personal data (the person's own words): read through the API
    # only, audited, and never published.
    Column("referral_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("plan", JSONB, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("record", JSONB, nullable=False),  # Decision.explain(): who was excluded and why
    Index("ix_decisions_decided_brin", "decided_at", postgresql_using="brin"),  # retention
)

# Service level clocks of accepted referrals (domain/sla.py): one row from acceptance on.
sla_timers = Table(
    "sla_timers",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("borough", String(64)),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("first_contact_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("raised", JSONB, nullable=False, server_default="[]"),  # ["first-contact:breach", ...]
    # The next deadline no alert was raised for yet; null once nothing more can be breached
    # (closed, or every rule raised or met), so the sweep never reads those rows.
    Column("next_due_at", DateTime(timezone=True)),
    Index(
        "ix_sla_timers_next_due",
        "next_due_at",
        postgresql_where=text("next_due_at IS NOT NULL"),
    ),
)

# The community services directory as the router reads it (a read model of the compacted
# `directory.services` topic, hub_common.region.directory), for link workers to find services. The
# directory columns are rewritten by every message; the capacity columns belong to the router
# (organisations set them through the API) and survive directory updates.
SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(organisation_name, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'C')"
)
directory_services = Table(
    "directory_services",
    metadata,
    Column("id", String(64), primary_key=True),  # the HealthcareService's FHIR id
    Column("directory_id", String(200), nullable=False, unique=True),  # the topic's key
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("organisation_id", String(200), nullable=False),  # the directory organisation id
    Column("organisation_name", Text, nullable=False),
    Column("active", Boolean, nullable=False),  # false while temporarily closed
    Column("needs", ARRAY(String(40)), nullable=False),  # hub need category codes
    Column("terms", ARRAY(Text), nullable=False),  # taxonomy "system|code", and codes alone
    Column("days", ARRAY(String(3)), nullable=False),  # FHIR days-of-week it opens on
    Column("free", Boolean, nullable=False),
    Column("minimum_age", Integer),
    Column("maximum_age", Integer),
    Column("bundle", JSONB, nullable=False),  # the directory's Bundle, as published
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("capacity", String(16)),  # 'places' | 'waiting-list' | null (not known)
    Column("places_available", Integer),  # with 'places': how many are free now
    Column("capacity_updated_at", DateTime(timezone=True)),
    Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR, persisted=True)),
    Index("ix_directory_services_search", "search_vector", postgresql_using="gin"),
    Index("ix_directory_services_needs", "needs", postgresql_using="gin"),
    Index("ix_directory_services_organisation", "organisation_id"),
)

# Where each service is delivered: distance searches take the nearest of them.
directory_locations = Table(
    "directory_locations",
    metadata,
    Column(
        "service_id",
        String(64),
        ForeignKey("router.directory_services.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
)

# Onward referrals to community organisations (domain/onward.py). `request` is the onward
# ServiceRequest: personal data (the person's name and contact, as the link worker chose to
# share them), read through the API by the organisation alone, audited, and never published.
onward_referrals = Table(
    "onward_referrals",
    metadata,
    Column("onward_id", String(64), primary_key=True),
    Column("referral_id", String(64), nullable=False),  # the link worker's Task it is part of
    Column("organisation_id", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("business_status", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("record", JSONB, nullable=False),  # the domain object's fields (onward_store.py)
    Column("request", JSONB, nullable=False),  # the onward ServiceRequest (personal data)
    Column("task", JSONB, nullable=False),  # the onward Task's latest snapshot
    # The next nudge or deadline of an unanswered one; null once answered, so the sweep reads
    # only those still waiting (partial index).
    Column("next_check_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_onward_referrals_referral", "referral_id"),
    Index("ix_onward_referrals_organisation", "organisation_id", "updated_at"),
    Index(
        "ix_onward_referrals_next_check",
        "next_check_at",
        postgresql_where=text("next_check_at IS NOT NULL"),
    ),
)

# Restrictions of processing (hub_common.privacy.data_protection): a referral or episode id per row,
# and the request that restricted it (a lift deletes that request's rows). Ids only.
restrictions = Table(
    "restrictions",
    metadata,
    Column("subject_id", String(64), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("restricted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_restrictions_request", "request_id"),
)

# Referrals of a restricted person that arrived while restricted: kept as received, not routed
# (no Task, so nobody is offered it and nobody is told), and routed when the restriction is
# lifted. Personal data (the ServiceRequest): erased with the person.
held_referrals = Table(
    "held_referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("episode_id", String(64), nullable=False, index=True),
    Column("request", JSONB, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("traceparent", String(64)),
    Column("held_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
