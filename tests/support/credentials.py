"""Bearer tokens for tests, signed with the test run's secret."""

from __future__ import annotations

from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_common.security.auth import Principal, issue_token
from tests.support.stack import IsolatedStack

CVA = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"
GP_PRACTICE = f"{ODS_SYSTEM}|H85001"


def agency_token(
    stack: IsolatedStack,
    organisation: str = CVA,
    sources: tuple[str, ...] = ("community",),
    ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    principal = Principal(
        "agency", subject=organisation, organisation=organisation, sources=sources
    )
    return issue_token(stack.auth_secret, principal, ttl_seconds=ttl_seconds, now=now)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
