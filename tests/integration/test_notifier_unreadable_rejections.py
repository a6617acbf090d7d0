"""A refusal of a body intake could not parse still came from a source: a `message`
subscriber hears it on its own status topic for that source, never a dead letter "no status
topic for this source"; and a dead letter the operator API lists can be retried (issue 22)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters import orm
from hub_notifier.adapters.delivery_store import DEAD, DELIVERED
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from hub_notifier.domain.notification import TASK_TOPIC
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import organisation, own_stack

pytestmark = pytest.mark.infra

CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
CVA_KEY = f"{CVA['system']}|{CVA['value']}"


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
            agency = bearer(
                issue_token(
                    stack.auth_secret,
                    Principal("agency", subject=CVA["value"], organisation=CVA_KEY),
                )
            )
            subscribed = await client.post(
                "/fhir/Subscription",
                json={
                    "resourceType": "Subscription",
                    "status": "requested",
                    "reason": "tell us every change",
                    "criteria": TASK_TOPIC,
                    "_criteria": {
                        "extension": [
                            {
                                "url": "http://hl7.org/fhir/uv/subscriptions-backport/"
                                "StructureDefinition/backport-filter-criteria",
                                "valueString": f"Task?requester={CVA_KEY}",
                            }
                        ]
                    },
                    "channel": {"type": "message", "payload": "application/fhir+json"},
                },
                headers=agency,
            )
            assert subscribed.status_code == 201, subscribed.text
            yield {"stack": stack, "app": app, "client": client}
    finally:
        await app.state.engine.dispose()
        await drop()


def unparseable_body_rejection(rejection_id: str) -> dict[str, Any]:
    """What intake publishes for an HTTP body it could not parse: no reference, no contact."""
    return {
        "rejectionId": rejection_id,
        "source": "community",
        "receivedAt": "2026-03-01T10:00:00+00:00",
        "referrerReference": None,
        "item": None,
        "agency": CVA_KEY,
        "referrerContact": {"organisation": None, "name": None, "email": None, "phone": None},
        "original": {"base64": "e25vdCBqc29u"},
        "outcome": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "structure",
                    "diagnostics": "body is not JSON",
                    "expression": ["(body)"],
                }
            ],
        },
    }


async def deliveries_of(world: dict[str, Any], referral_id: str) -> list[Any]:
    async with world["app"].state.engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    select(orm.deliveries.c.delivery_id, orm.deliveries.c.status).where(
                        orm.deliveries.c.referral_id == referral_id
                    )
                )
            ).all()
        )


async def status_events(world: dict[str, Any], referral_id: str) -> int:
    async with world["app"].state.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(orm.outbox.c.topic).where(orm.outbox.c.key == referral_id)
            )
        ).all()
    return sum(
        1 for row in rows if row.topic == world["stack"].topics.agency_status("community", CVA_KEY)
    )


async def test_an_unparseable_body_refusal_reaches_a_message_subscriber(
    world: dict[str, Any],
) -> None:
    rejection_id = str(uuid.uuid4())
    await world["app"].state.service.record_rejection(
        unparseable_body_rejection(rejection_id), str(uuid.uuid4())
    )
    [(_, status)] = await deliveries_of(world, rejection_id)
    assert status == DELIVERED  # handed to the outbox, not dead-lettered
    assert await status_events(world, rejection_id) == 1


async def test_a_listed_dead_letter_can_be_retried(world: dict[str, Any]) -> None:
    # A dead letter left behind by an earlier version, which dead-lettered these.
    rejection_id = str(uuid.uuid4())
    await world["app"].state.service.record_rejection(
        unparseable_body_rejection(rejection_id), str(uuid.uuid4())
    )
    [(delivery_id, _)] = await deliveries_of(world, rejection_id)
    async with world["app"].state.engine.begin() as connection:
        await connection.execute(
            update(orm.deliveries)
            .where(orm.deliveries.c.delivery_id == delivery_id)
            .values(status=DEAD, last_error="no status topic for this source")
        )
    stack = world["stack"]
    operator = bearer(issue_token(stack.auth_secret, Principal("operator", subject="ops")))
    listed = await world["client"].get("/operator/dead-letters", headers=operator)
    assert delivery_id in {row["delivery_id"] for row in listed.json()}
    retried = await world["client"].post(
        f"/operator/dead-letters/{delivery_id}/retry", headers=operator
    )
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"delivery_id": delivery_id, "status": DELIVERED}
    assert await status_events(world, rejection_id) == 2  # published again, on its topic
    again = await world["client"].post(
        f"/operator/dead-letters/{delivery_id}/retry", headers=operator
    )
    assert again.status_code == 404  # no longer a dead letter
