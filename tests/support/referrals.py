"""Canonical ServiceRequests built the way intake builds them, for tests that start at the router."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub_common.fhir.needs import NeedCategory
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.domain.referral import Address, Consent, Need, Person, Referral, Referrer


def service_request(
    referral_id: str,
    *,
    postcode: str = "CR7 8AB",
    needs: tuple[NeedCategory, ...] = (NeedCategory.LONELINESS_ISOLATION,),
    language: str | None = None,
    interpreter: bool = False,
    risk: str = "none",
    episode_id: str | None = None,
) -> dict[str, Any]:
    """A self-contained ServiceRequest for a made-up person (no real personal data)."""
    referral = Referral(
        source="community",
        referrer_reference=f"TEST-{referral_id}",
        person=Person(
            given_names=("Test",),
            family_name=f"Person-{referral_id}",
            birth_date=date(1950, 1, 1),
            address=Address(lines=("1 Test Street",), postcode=postcode),
            phone="020 7946 0000",
            language=language,
            interpreter_needed=interpreter,
        ),
        referrer=Referrer(
            organisation="Test Voluntary Action",
            organisation_type="voluntary organisation",
            agency_id="community:test-voluntary-action",
            email="referrals@example.org",
        ),
        consent=Consent(given=True, recorded_at=datetime(2026, 11, 1, tzinfo=UTC), method="verbal"),
        needs=tuple(Need(category=need, text=need.value) for need in needs),
        authored_on=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        risk_to_visitors=risk,  # type: ignore[arg-type]
    )
    return to_service_request(referral, referral_id, episode_id or f"ep-{referral_id}")
