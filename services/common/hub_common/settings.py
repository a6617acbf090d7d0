"""Settings every service shares; each service extends them with its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub_common.messaging.topics import Topics
from hub_common.privacy.retention import RetentionPolicy
from hub_common.region.service_area import load_service_area

DEFAULT_AGENCY_MESSAGE_MAX_BYTES = 1_000_000
"""The largest agency message (its body, in bytes) unless HUB_AGENCY_MESSAGE_MAX_BYTES says."""


class InfraSettings(BaseSettings):
    """Where Kafka and PostgreSQL are, and how this process names its topics."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated"
    )
    database_url: str = Field(
        default="postgresql+asyncpg://hub:hub@127.0.0.1:5432/referral_hub",
        description="SQLAlchemy URL of the PostgreSQL database (asyncpg driver)",
    )
    topic_prefix: str = Field(
        default="",
        alias="HUB_TOPIC_PREFIX",
        description="Prefix of every topic and consumer group: empty in production, unique per test run",
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: str = Field(default="SCRAM-SHA-512", description="SASL mechanism")
    kafka_sasl_username: str | None = Field(default=None, description="This service's Kafka user")
    kafka_sasl_password: str | None = Field(
        default=None, description="This service's Kafka password"
    )
    auth_secret: str = Field(
        default="dev-only-referral-hub-secret-change-me",
        alias="HUB_AUTH_SECRET",
        description="Secret that signs API tokens; set a long random value outside development",
    )
    log_level: str = Field(default="INFO", alias="HUB_LOG_LEVEL")
    log_format: Literal["json", "text"] = Field(
        default="json",
        alias="HUB_LOG_FORMAT",
        description="json: one JSON object a line, for log collectors; text: for people at a "
        "terminal. Either way a line carries the trace id when there is one",
    )
    agency_message_max_bytes: int = Field(
        default=DEFAULT_AGENCY_MESSAGE_MAX_BYTES,
        alias="HUB_AGENCY_MESSAGE_MAX_BYTES",
        gt=0,
        description="The largest agency message body in bytes, on Kafka and over HTTP alike: "
        "intake's HTTP body limit, and the referrals.inbound.* topics' max.message.bytes "
        "(plus room for the record's key, headers and framing) when topics are ensured",
    )

    kafka_replication_factor: int = Field(
        default=1,
        alias="HUB_KAFKA_REPLICATION_FACTOR",
        ge=1,
        description="Replicas of every topic `topics ensure` creates: 1 on a single local broker, "
        "3 on a cluster (deploy/local/stack.sh starts three brokers with HUB_KAFKA_BROKERS=3)",
    )
    kafka_min_insync_replicas: int | None = Field(
        default=None,
        alias="HUB_KAFKA_MIN_INSYNC_REPLICAS",
        ge=1,
        description="min.insync.replicas of the topics `topics ensure` creates; by default one "
        "less than the replication factor (2 of 3), so a write survives one broker's loss",
    )

    retention: str = Field(
        default="",
        alias="HUB_RETENTION",
        description="How long each kind of record is kept, over the defaults: kind=duration "
        "pairs, comma-separated (referral=8y,rejection=2y,routing-decision=2y,delivery=1y,"
        "processed-event=60d,event=30d; d, w or y, or never). docs/data-protection.md says why",
    )
    retention_sweep_seconds: float = Field(
        default=3600.0,
        alias="HUB_RETENTION_SWEEP_SECONDS",
        gt=0,
        description="How often each service lets go of the records that have expired",
    )
    retention_batch: int = Field(
        default=500,
        alias="HUB_RETENTION_BATCH",
        gt=0,
        description="Most records one retention transaction deletes or anonymises",
    )

    metrics_interval_seconds: float = Field(
        default=15.0,
        alias="HUB_METRICS_INTERVAL_SECONDS",
        gt=0,
        description="How often a service samples the gauges /metrics reports (consumer lag, "
        "outbox depth and age, dependencies up); match Prometheus's scrape interval",
    )

    service_area: str = Field(
        default="",
        alias="HUB_SERVICE_AREA",
        description="Path of the service area file (JSON: the area's name, each local "
        "authority's GSS code, name and postcode districts); every service and the CLI must "
        "be given the same file. Empty: the packaged South West London demo. A referral "
        "outside it is refused naming the area; README, Operations: adding a region",
    )

    @field_validator("service_area")
    @classmethod
    def _service_area_is_usable(cls, value: str) -> str:
        load_service_area(
            value.strip()
        )  # a bad file stops the service at start, every problem named
        return value

    @field_validator("retention")
    @classmethod
    def _retention_is_a_schedule(cls, value: str) -> str:
        RetentionPolicy.parse(value)  # a bad schedule stops the service at start, named
        return value

    @property
    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy.parse(self.retention)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def group_id(self, name: str) -> str:
        """A consumer group name, namespaced like the topics."""
        return f"{self.topic_prefix}{name}"
