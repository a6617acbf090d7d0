"""The notifier's tables, in its own `notifier` schema: the read side referrers query."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from hub_common.storage.db import outbox_table, processed_events_table

SCHEMA = "notifier"
metadata = MetaData(schema=SCHEMA)

service_requests = Table(
    "service_requests",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("requester_org", String(200), nullable=False, index=True),  # who may read it
    Column("resource", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Where the person lives, by borough only: what decides which coordinators may read it.
    Column("borough", String(40), nullable=True, index=True),
    Index("ix_service_requests_received_brin", "received_at", postgresql_using="brin"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("business_status", String(40), nullable=False),
    Column("requester_org", String(200), nullable=False, index=True),
    Column("task", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The Task's own meta.lastUpdated: what `_lastUpdated` searches compare with.
    Column("last_updated", DateTime(timezone=True), nullable=True, index=True),
)

task_history = Table(
    "task_history",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("task", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rejections = Table(
    "rejections",
    metadata,
    Column("rejection_id", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("event", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_rejections_received_brin", "received_at", postgresql_using="brin"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(36), primary_key=True),
    Column("requester_org", String(200), nullable=False, index=True),  # whose Tasks it follows
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("endpoint", String(2000), nullable=True),
    Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # Kept as is, not hashed: the hub must sign with it. Shown to the agency once, at creation.
    Column("secret", String(100), nullable=False),
    # After a rotation the old secret signs beside the new one until `previous_secret_until`.
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    # The Backport's heartbeatPeriod (rest-hook only); None asks for no heartbeats.
    Column("heartbeat_seconds", Integer, nullable=True),
    # When the hub last queued a notification for it: the heartbeat sweep's clock.
    Column("last_notified_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("filter_criteria", String(500), nullable=False),
    Column("reason", String(500), nullable=False),
    # The last event number given out; the row is locked while the next one is taken.
    Column("events_since_start", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),  # creation order
    Column("delivery_id", String(36), nullable=False, unique=True),  # the Idempotency-Key
    Column(
        "subscription_id",
        String(36),
        ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"),
        nullable=True,  # e-mails to referrers with no system belong to no subscription
    ),
    Column("event_number", BigInteger, nullable=True),  # none for a handshake or an e-mail
    Column("kind", String(24), nullable=False),  # handshake | event-notification | email
    Column("channel", String(16), nullable=False),  # rest-hook | message | email
    Column("target", String(320), nullable=True),  # the address, for e-mail
    Column("referral_id", String(64), nullable=True),
    # Frozen when the change is recorded, so a retry (or a resend after a crash) is the same bytes.
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(200), nullable=True),  # e.g. `HTTP 503`; never response text
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The change's W3C trace context: the worker's POST continues its trace (hub_common.observability.tracing).
    Column("traceparent", String(64), nullable=True),
    UniqueConstraint("subscription_id", "event_number", name="uq_deliveries_event_number"),
    Index("ix_deliveries_pending_due", "due_at", postgresql_where=text("status = 'pending'")),
    Index(
        "ix_deliveries_pending_order",
        "subscription_id",
        "seq",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_deliveries_subscription_status", "subscription_id", "status"),
    # The e-mails about one referral form a stream of their own (see delivery_store.claim).
    Index(
        "ix_deliveries_pending_email_stream",
        "referral_id",
        "seq",
        postgresql_where=text("status = 'pending' AND subscription_id IS NULL"),
    ),
    # The retention sweep's finished deliveries, by age (rows arrive in time order).
    Index("ix_deliveries_created_brin", "created_at", postgresql_using="brin"),
    # Every delivery about a referral, for a subject access export.
    Index("ix_deliveries_referral", "referral_id"),
)

# Every read and change of personal data, from every service (hub.audit). Append-only: the
# migration adds triggers refusing UPDATE, DELETE and TRUNCATE. Ids only, never content.
audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", String(64), primary_key=True),  # a redelivery inserts nothing
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("service", String(32), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("actor_subject", String(200), nullable=False, index=True),
    Column("actor_organisation", String(200), nullable=True),
    Column("action", String(10), nullable=False),  # read | create | update | export
    Column("resource_type", String(40), nullable=False),
    Column("resource_ids", ARRAY(String(64)), nullable=False),
    Column("method", String(10), nullable=False),
    Column("route", String(200), nullable=False),  # the template, never the raw URL
    Column("peer", String(64), nullable=True),
    Column("forwarded_for", String(500), nullable=True),  # as reported, unverified
    Column("outcome", String(20), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # "Who touched referral X": containment (`resource_ids @> ARRAY[x]`) uses this index.
    Index("ix_audit_log_resource_ids", "resource_ids", postgresql_using="gin"),
)

# Service level alerts from the router (hub.alerts): one row per referral, rule and level, the
# identity a redelivered or republished alert shares. Ids and borough only, never the person.
alerts = Table(
    "alerts",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("rule", String(20), primary_key=True),  # first-contact | closure
    Column("level", String(16), primary_key=True),  # breach | escalated
    Column("borough", String(40), nullable=True),
    Column("event_id", String(64), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", String(24), nullable=True),  # first-contact-made | closed
    # A coordinator's open alerts, by borough, without reading every resolved one.
    Index(
        "ix_alerts_open_borough",
        "borough",
        "raised_at",
        postgresql_where=text("resolved_at IS NULL"),
    ),
)

# One digest e-mail per borough and London day, recorded with its delivery row: replicas that
# check at the same moment send it once.
alert_digests = Table(
    "alert_digests",
    metadata,
    Column("borough", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("delivery_id", String(36), nullable=False),
    Column("open_alerts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Who each referral is about, for linking one person's referrals from several agencies
# (domain/person_match.py): the normalised demographics the matching compares, indexed for
# finding candidates, and the person the referral belongs to (the first referral's id).
person_records = Table(
    "person_records",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("person_id", String(64), nullable=False, index=True),
    Column(
        "link_basis", String(20), nullable=False
    ),  # self | nhs-number | demographics | coordinator
    Column("nhs_number", String(10), nullable=True, index=True),
    Column("birth_date", Date, nullable=True),
    Column("family", String(200), nullable=False),
    Column("given", ARRAY(String(200)), nullable=False),
    Column("postcode", String(10), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Candidates at one address share a family name too: a postcode alone (a care home, a
    # block of flats, a generated load) made every referral there a candidate of every other.
    Index("ix_person_records_postcode_family", "postcode", "family"),
    # Candidates by birth date, read from the index alone: it carries what says whether one
    # shares a second field (person_links.py), so a date shared by many costs no heap reads.
    Index(
        "ix_person_records_born",
        "birth_date",
        postgresql_include=["nhs_number", "family", "given", "postcode", "phone", "person_id"],
    ),
)

# Pairs the matching could not decide, for a coordinator of the person's borough: confirmed
# (the two people become one) or split (never asked again). Scores and ids, no demographics.
person_reviews = Table(
    "person_reviews",
    metadata,
    Column("review_id", String(36), primary_key=True),
    Column("referral_id", String(64), nullable=False),  # the newer referral
    Column("other_referral_id", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("fields", JSONB, nullable=False),  # each field's similarity
    Column("swapped_names", Boolean, nullable=False),
    Column("status", String(12), nullable=False),  # pending | confirmed | split
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("referral_id", "other_referral_id", name="uq_person_reviews_pair"),
    Index("ix_person_reviews_pending", "created_at", postgresql_where=text("status = 'pending'")),
)

# Erasure and restriction requests (hub_common.privacy.data_protection), as an operator made them: the
# referral and episode ids they covered (hub ids: pseudonyms once the person is erased), who
# asked and when, and which services have applied them. Never a name or an NHS number.
data_protection_requests = Table(
    "data_protection_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("action", String(10), nullable=False),  # erase | restrict | lift
    Column("referral_ids", ARRAY(String(64)), nullable=False),
    Column("episode_ids", ARRAY(String(64)), nullable=False),
    Column("restriction_id", String(64), nullable=True),  # a lift: the restriction it ends
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("lifted_at", DateTime(timezone=True), nullable=True),  # a restriction, once lifted
    Column("applied", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # service: at
)

# Restricted referrals and episodes: nothing is announced about them until the restriction
# (request_id) is lifted. Ids only.
restrictions = Table(
    "restrictions",
    metadata,
    Column("subject_id", String(64), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("restricted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_notifier_restrictions_request", "request_id"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
