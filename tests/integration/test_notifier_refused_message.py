"""What an agency sent in a referral refused at intake, served back to that agency alone (so
the web app can lay it out as a form to correct, issue 23), and every read of it audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters import orm
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import own_stack

pytestmark = pytest.mark.infra

CVA_KEY = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"
POLICE_KEY = f"{AGENCY_ID_SYSTEM}|police:metropolitan-police-service"
SENT = {
    "schema": "community-referral/1",
    "form_id": "CVA-REFUSED",
    "person": {"given_name": "Ama", "family_name": "Mensah", "postcode": "NOT A POSTCODE"},
}


def refusal(rejection_id: str) -> dict[str, Any]:
    return {
        "rejectionId": rejection_id,
        "source": "community",
        "receivedAt": "2026-03-01T10:00:00+00:00",
        "referrerReference": "CVA-REFUSED",
        "item": None,
        "agency": CVA_KEY,
        "referrerContact": {"organisation": None, "name": None, "email": None, "phone": None},
        "original": SENT,
        "outcome": {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "value", "expression": ["person.postcode"]},
                {"severity": "error", "code": "required", "expression": ["consent"]},
            ],
        },
    }


@pytest.fixture(scope="module")
async def world(infra: Infrastructure) -> AsyncIterator[dict[str, Any]]:
    stack, drop = await own_stack(infra)
    app = build_app(
        NotifierSettings(
            database_url=stack.database_url,
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
            topic_prefix=stack.topic_prefix,
            auth_secret=stack.auth_secret,
        )
    )
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            rejection_id = str(uuid.uuid4())
            await app.state.service.record_rejection(refusal(rejection_id), str(uuid.uuid4()))
            yield {"stack": stack, "app": app, "client": client, "rejection": rejection_id}
    finally:
        await app.state.engine.dispose()
        await drop()


def as_caller(world: dict[str, Any], principal: Principal) -> dict[str, str]:
    return bearer(issue_token(world["stack"].auth_secret, principal))


async def test_the_referring_agency_reads_what_it_sent_and_the_read_is_audited(
    world: dict[str, Any],
) -> None:
    rejection = world["rejection"]
    agency = as_caller(world, Principal("agency", "cva", organisation=CVA_KEY))
    answer = await world["client"].get(f"/fhir/Task/{rejection}/$refused-message", headers=agency)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rejection": rejection, "source": "community", "original": SENT}
    async with world["app"].state.engine.connect() as connection:
        staged = (
            await connection.scalars(
                select(orm.outbox.c.value).where(orm.outbox.c.topic == world["stack"].topics.audit)
            )
        ).all()
    audited = [json.loads(value) for value in staged]
    assert any(entry["resourceKind"] == "Task" and rejection in str(entry) for entry in audited)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (Principal("agency", "police", organisation=POLICE_KEY), 404),  # not theirs
        (Principal("coordinator", "co", boroughs=("Croydon",)), 403),
        (Principal("link_worker", "lw-cr-twi"), 403),
        (Principal("operator", "ops"), 403),
    ],
)
async def test_nobody_else_reads_it(
    world: dict[str, Any], principal: Principal, expected: int
) -> None:
    answer = await world["client"].get(
        f"/fhir/Task/{world['rejection']}/$refused-message", headers=as_caller(world, principal)
    )
    assert answer.status_code == expected, answer.text
    assert "NOT A POSTCODE" not in answer.text


async def test_an_accepted_referral_or_no_credentials_get_nothing(world: dict[str, Any]) -> None:
    agency = as_caller(world, Principal("agency", "cva", organisation=CVA_KEY))
    unknown = await world["client"].get("/fhir/Task/no-such-task/$refused-message", headers=agency)
    assert unknown.status_code == 404
    anonymous = await world["client"].get(f"/fhir/Task/{world['rejection']}/$refused-message")
    assert anonymous.status_code == 401
