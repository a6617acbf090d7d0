"""Who reads the person and the casework, on the real database: the link worker who accepted a
referral reads the person's details while working on it, and no one else among workers; the
referring agency reads what the hub did (status, step), never the worker's outcomes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import Instrument, Timepoint, WellbeingMeasure
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters import orm
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from hub_router.adapters.fhir_task import task_snapshot
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import NHS_NUMBER, organisation, own_stack, service_request
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

CVA = organisation(AGENCY_ID_SYSTEM, "community:croydon-voluntary-action")
CVA_KEY = f"{CVA['system']}|{CVA['value']}"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CLOSED = Outcomes(
    "Joined the lunch club",
    (
        WellbeingMeasure(
            Instrument.ONS4,
            Timepoint.FIRST_CONTACT,
            START,
            (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
        ),
    ),
    (SupportOffered(NeedCategory.LONELINESS_ISOLATION, SupportKind.ATTENDED, "Lunch club"),),
)


def token(stack: IsolatedStack, role: str, subject: str, **scope: Any) -> dict[str, str]:
    principal = Principal(role, subject=subject, **scope)  # type: ignore[arg-type]
    return bearer(issue_token(stack.auth_secret, principal))


def version(
    referral_id: str, number: int, status: str, step: str, owner: str | None, **extra: Any
) -> dict[str, Any]:
    """A Task version as the router publishes it (its own mapper, not a copy)."""
    return task_snapshot(
        referral_id=referral_id,
        episode_id=f"episode-{referral_id}",
        version=number,
        status=status,
        business_status=step,
        owner=owner,
        requester={"type": "Organization", "identifier": CVA},
        referrer_identifier={"system": sys.referrer_reference_system("community"), "value": "R"},
        authored_on=START.isoformat(),
        last_modified=START + timedelta(minutes=number),
        **extra,
    )


@pytest.fixture
async def world(
    infra: Infrastructure,
) -> AsyncIterator[tuple[IsolatedStack, httpx.AsyncClient, Any, str]]:
    stack, drop = await own_stack(infra)
    settings = NotifierSettings(
        database_url=stack.database_url,
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
        topic_prefix=stack.topic_prefix,
        auth_secret=stack.auth_secret,
    )
    app = build_app(settings)
    referral_id = str(uuid.uuid4())
    try:
        await app.state.service.record_request(service_request(referral_id, CVA), str(uuid.uuid4()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield stack, client, app, referral_id
    finally:
        await app.state.engine.dispose()
        await drop()


async def test_only_the_worker_who_accepted_reads_the_person_while_working_on_it(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any, str],
) -> None:
    stack, client, app, referral_id = world
    record: Callable[[dict[str, Any]], Awaitable[None]] = lambda task: (  # noqa: E731
        app.state.service.record_task(task, str(uuid.uuid4()))
    )
    ada, ben = token(stack, "link_worker", "lw-ada"), token(stack, "link_worker", "lw-ben")
    path = f"/fhir/ServiceRequest/{referral_id}"

    async def readers() -> dict[str, int]:
        return {
            name: (await client.get(path, headers=headers)).status_code
            for name, headers in (("ada", ada), ("ben", ben))
        }

    assert await readers() == {"ada": 404, "ben": 404}  # no Task yet: nobody's
    await record(version(referral_id, 1, "requested", "offered", "lw-ada"))
    assert await readers() == {"ada": 404, "ben": 404}  # offered is not accepted
    await record(version(referral_id, 2, "accepted", "allocated", "lw-ada"))
    assert await readers() == {"ada": 200, "ben": 404}
    person = (await client.get(path, headers=ada)).json()
    assert NHS_NUMBER in str(person["contained"])  # the whole referral, to contact them
    await record(version(referral_id, 3, "accepted", "allocated", "lw-ben"))  # reassigned
    assert await readers() == {"ada": 404, "ben": 200}
    await record(version(referral_id, 4, "on-hold", "unable-to-contact", "lw-ben"))
    assert await readers() == {"ada": 404, "ben": 200}
    await record(
        version(
            referral_id,
            5,
            "completed",
            "connected-to-services",
            "lw-ben",
            outcomes=CLOSED,
        )
    )
    assert await readers() == {"ada": 404, "ben": 404}  # closed: no more need to contact

    # Every read that answered is on record under the worker who made it (staged for
    # `hub.audit` in the outbox, committed before the answer was sent).
    async with app.state.engine.connect() as connection:
        staged = (
            await connection.scalars(
                select(orm.outbox.c.value).where(orm.outbox.c.topic == stack.topics.audit)
            )
        ).all()
    reads = [json.loads(value) for value in staged]
    assert sorted(
        entry["actor"]["subject"] for entry in reads if entry["resourceKind"] == "ServiceRequest"
    ) == ["lw-ada", "lw-ada", "lw-ben", "lw-ben"]


async def test_the_referrer_reads_status_and_step_but_never_the_casework(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any, str],
) -> None:
    stack, client, app, referral_id = world
    closed = version(
        referral_id,
        1,
        "completed",
        "connected-to-services",
        "lw-ada",
        outcomes=CLOSED,
    )
    assert closed["output"] and closed["contained"]  # the router's own shape carries the scores
    await app.state.service.record_task(closed, str(uuid.uuid4()))
    agency = token(stack, "agency", "cva-system", organisation=CVA_KEY)
    coordinator = token(stack, "coordinator", "coord", boroughs=("Croydon",))

    read = (await client.get(f"/fhir/Task/{referral_id}", headers=agency)).json()
    history = (await client.get(f"/fhir/Task/{referral_id}/_history", headers=agency)).json()
    found = (await client.get("/fhir/Task", params={"_count": 10}, headers=agency)).json()
    for task in (read, history["entry"][0]["resource"], found["entry"][0]["resource"]):
        assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
            "completed",
            "connected-to-services",
        )
        assert "output" not in task and "contained" not in task
        assert "satisfied" not in str(task) and "Lunch club" not in str(task)
        assert "QuestionnaireResponse" not in str(task) and "Observation" not in str(task)

    whole = (await client.get(f"/fhir/Task/{referral_id}", headers=coordinator)).json()
    assert "'valueInteger': 4" in str(whole["contained"])  # coordinators see the casework
    assert len(whole["output"]) == 3
