"""schemathesis over every operation of each service's published OpenAPI document, against the
running hub with real credentials: hostile and malformed requests never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS

from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import CVA
from tests.support.processes import ServiceProcess, running_hub
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "openapi"
NO_SERVER_ERRORS = CHECKS.get_by_names(["not_a_server_error"])
CALLERS = {  # the role each service mostly serves, so requests get past authentication
    "intake": Principal(
        "agency", CVA, organisation=CVA, sources=("community", "police", "fire", "housing", "fhir")
    ),
    "router": Principal("link_worker", "lw-cr-twi"),
    "notifier": Principal("agency", CVA, organisation=CVA),
    # The router's organisation routes (onward referrals), past authentication too.
    "router-organisation": Principal("organisation", "org-user", organisation="org-fuzz"),
}

intake_api = schemathesis.openapi.from_path(SCHEMAS / "intake.json")
router_api = schemathesis.openapi.from_path(SCHEMAS / "router.json")
notifier_api = schemathesis.openapi.from_path(SCHEMAS / "notifier.json")


@pytest.fixture(scope="module")
def hub(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def call(
    case: schemathesis.Case,
    stack: IsolatedStack,
    hub: dict[str, ServiceProcess],
    service: str,
    caller: str | None = None,
) -> None:
    token = issue_token(stack.auth_secret, CALLERS[caller or service])
    case.call_and_validate(
        base_url=hub[service].url,
        headers={"Authorization": f"Bearer {token}"},
        checks=NO_SERVER_ERRORS,
    )


FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


@intake_api.parametrize()
@FUZZ
def test_intake_never_answers_5xx(
    case: schemathesis.Case, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    call(case, stack, hub, "intake")


@router_api.parametrize()
@FUZZ
def test_router_never_answers_5xx(
    case: schemathesis.Case, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    call(case, stack, hub, "router")


@router_api.parametrize()
@FUZZ
def test_router_never_answers_5xx_to_an_organisation(
    case: schemathesis.Case, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    call(case, stack, hub, "router", "router-organisation")


@notifier_api.parametrize()
@FUZZ
def test_notifier_never_answers_5xx(
    case: schemathesis.Case, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    call(case, stack, hub, "notifier")
