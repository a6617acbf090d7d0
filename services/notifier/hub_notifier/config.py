"""The notifier service's settings."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from pydantic import Field

from hub_common.settings import InfraSettings
from hub_notifier.domain.retry import RetryPolicy

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


class NotifierSettings(InfraSettings):
    """Where the notifier listens, how it reaches referrers, and how hard it tries."""

    http_host: str = Field(default="127.0.0.1", alias="NOTIFIER_HTTP_HOST")
    http_port: int = Field(default=8003, alias="NOTIFIER_HTTP_PORT")
    public_url: str = Field(
        default="http://127.0.0.1:8003",
        alias="NOTIFIER_PUBLIC_URL",
        description="Base URL referrers use to reach this API (links in notifications, e-mails)",
    )
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        alias="HUB_WEB_URL",
        description="Base URL of the web app: the e-mail's Details link opens the referral "
        "there (behind the referrer's sign-in), not this API; community organisations' e-mails "
        "link to their inbox there",
    )
    allow_http_endpoints: bool = Field(
        default=False,
        alias="NOTIFIER_ALLOW_HTTP_ENDPOINTS",
        description="Accept plain http:// subscription endpoints, and endpoints on loopback or "
        "private addresses (development and tests only; off, only public https endpoints)",
    )
    delivery_timeout_seconds: float = Field(
        default=10.0,
        alias="NOTIFIER_DELIVERY_TIMEOUT_SECONDS",
        description="Longest wait for one referrer's endpoint to answer",
    )
    delivery_concurrency: int = Field(
        default=50,
        alias="NOTIFIER_DELIVERY_CONCURRENCY",
        description="Deliveries in flight at once, per notifier replica",
    )
    delivery_lease_seconds: float = Field(
        default=30.0,
        alias="NOTIFIER_DELIVERY_LEASE_SECONDS",
        description="How long a claimed delivery stays with the replica that claimed it; a "
        "replica that dies mid-send holds it this long (kept above the timeout)",
    )
    delivery_poll_seconds: float = Field(
        default=10.0,
        gt=0,
        alias="NOTIFIER_DELIVERY_POLL_SECONDS",
        description="The idle delivery worker's fallback poll: new deliveries wake it at once "
        "(PostgreSQL NOTIFY) and it sleeps until the next retry falls due, so this only bounds "
        "how late a delivery whose notification was lost goes out",
    )
    max_events_per_notification: int = Field(
        default=50,
        ge=1,
        alias="NOTIFIER_MAX_EVENTS_PER_NOTIFICATION",
        description="Most pending events of one subscription sent together in one notification "
        "(1: one event per request)",
    )
    retry_base_seconds: float = Field(
        default=5.0,
        alias="NOTIFIER_RETRY_BASE_SECONDS",
        description="Delay after the first failed attempt; doubles with each failure",
    )
    retry_max_delay_seconds: float = Field(
        default=3600.0,
        alias="NOTIFIER_RETRY_MAX_DELAY_SECONDS",
        description="Longest delay between two attempts",
    )
    retry_for_seconds: float = Field(
        default=24 * 3600.0,
        alias="NOTIFIER_RETRY_FOR_SECONDS",
        description="How long after its first attempt a delivery is retried before it is "
        "dead-lettered (at least 24 hours in production)",
    )
    secret_rotation_grace_hours: float = Field(
        default=24.0,
        gt=0,
        alias="NOTIFIER_SECRET_ROTATION_GRACE_HOURS",
        description="How long a rotated-out signing secret keeps signing beside the new one",
    )
    heartbeat_check_seconds: float = Field(
        default=15.0,
        gt=0,
        alias="NOTIFIER_HEARTBEAT_CHECK_SECONDS",
        description="How often each replica looks for subscriptions due a heartbeat",
    )
    shortest_heartbeat_seconds: int = Field(
        default=60,
        ge=1,
        alias="NOTIFIER_SHORTEST_HEARTBEAT_SECONDS",
        description="The shortest heartbeatPeriod a subscription may ask for",
    )
    smtp_host: str = Field(default="127.0.0.1", alias="NOTIFIER_SMTP_HOST")
    smtp_port: int = Field(default=25, alias="NOTIFIER_SMTP_PORT")
    smtp_sender: str = Field(default="referral-hub@localhost", alias="NOTIFIER_SMTP_SENDER")
    smtp_starttls: bool = Field(default=False, alias="NOTIFIER_SMTP_STARTTLS")
    smtp_username: str | None = Field(default=None, alias="NOTIFIER_SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, alias="NOTIFIER_SMTP_PASSWORD")

    alert_digest_to: dict[str, str] = Field(
        default_factory=dict,
        alias="NOTIFIER_ALERT_DIGEST_TO",
        description="Coordinators' address per borough for the daily digest of open service "
        'level alerts, as JSON ({"Croydon": "coordinators@example.org"}); a borough not named '
        "gets no digest",
    )
    alert_digest_at: time = Field(
        default=time(8, 0),
        alias="NOTIFIER_ALERT_DIGEST_AT",
        description="London time of day after which each borough's daily digest is sent",
    )
    alert_digest_check_seconds: float = Field(
        default=60.0,
        gt=0,
        alias="NOTIFIER_ALERT_DIGEST_CHECK_SECONDS",
        description="How often each replica checks whether a digest is due",
    )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.retry_base_seconds),
            max_delay=timedelta(seconds=self.retry_max_delay_seconds),
            retry_for=timedelta(seconds=self.retry_for_seconds),
        )
