"""The router service's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from hub_common.region.district_centroids import load_centroids
from hub_common.settings import InfraSettings
from hub_router.domain.offers import OfferTimeout
from hub_router.domain.sla import SlaPolicy

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


class RouterSettings(InfraSettings):
    """Where the router listens, and how offers behave."""

    http_host: str = Field(default="127.0.0.1", alias="ROUTER_HTTP_HOST")
    http_port: int = Field(default=8002, alias="ROUTER_HTTP_PORT")
    district_centroids: str = Field(
        default="",
        alias="HUB_DISTRICT_CENTROIDS",
        description="CSV of the service area's postcode district centres (district, latitude, "
        "longitude), for the directory's distance search; empty: the packaged South West "
        "London demo table",
    )

    @field_validator("district_centroids")
    @classmethod
    def _centroids_are_readable(cls, value: str) -> str:
        load_centroids(value.strip())  # a bad table stops the router at start, its line named
        return value

    max_failed_offers: int = Field(
        default=3,
        ge=1,
        alias="ROUTER_MAX_FAILED_OFFERS",
        description="Declined or unanswered offers before a referral waits for a coordinator",
    )
    offer_timeout_working_days: int = Field(
        default=2,
        ge=1,
        alias="ROUTER_OFFER_TIMEOUT_WORKING_DAYS",
        description="Working days (the worker's own) to answer an offer before it passes on",
    )
    offer_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        alias="ROUTER_OFFER_TIMEOUT_SECONDS",
        description="When set, replaces the working-day deadline (tests and demonstrations)",
    )
    offer_sweep_seconds: float = Field(
        default=15.0,
        gt=0,
        alias="ROUTER_OFFER_SWEEP_SECONDS",
        description="How often each replica looks for offers past their deadline",
    )

    sla_first_contact_working_days: int = Field(
        default=5,
        ge=1,
        alias="ROUTER_SLA_FIRST_CONTACT_WORKING_DAYS",
        description="Working days after acceptance to reach the person (England & Wales)",
    )
    sla_closure_weeks: int = Field(
        default=12,
        ge=1,
        alias="ROUTER_SLA_CLOSURE_WEEKS",
        description="Weeks after acceptance to close the referral",
    )
    sla_escalation_working_days: int = Field(
        default=5,
        ge=1,
        alias="ROUTER_SLA_ESCALATION_WORKING_DAYS",
        description="Further working days a first-contact breach stays open before it escalates",
    )
    sla_sweep_seconds: float = Field(
        default=300.0,
        gt=0,
        alias="ROUTER_SLA_SWEEP_SECONDS",
        description="How often each replica looks for service level breaches",
    )

    onward_answer_working_days: int = Field(
        default=10,
        ge=1,
        alias="ROUTER_ONWARD_ANSWER_WORKING_DAYS",
        description="Working days a community organisation has to answer an onward referral "
        "(nudged at half of them, declined for it at the end)",
    )
    onward_answer_working_days_by_service: dict[str, int] = Field(
        default_factory=dict,
        alias="ROUTER_ONWARD_ANSWER_WORKING_DAYS_BY_SERVICE",
        description='A service\'s own answer deadline, JSON: {"<directory service id>": 5}',
    )
    onward_sweep_seconds: float = Field(
        default=300.0,
        gt=0,
        alias="ROUTER_ONWARD_SWEEP_SECONDS",
        description="How often each replica nudges and declines unanswered onward referrals",
    )

    @property
    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy(
            self.sla_first_contact_working_days,
            self.sla_closure_weeks,
            self.sla_escalation_working_days,
        )

    @property
    def offer_timeout(self) -> OfferTimeout:
        return OfferTimeout(self.offer_timeout_working_days, self.offer_timeout_seconds)
