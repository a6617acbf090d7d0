"""One person's referrals from several agencies, on the real database (issue 13, item 8): a GP
referral with the NHS number and a police referral without one are linked and shown to the
owner; an uncertain pair waits for a coordinator of the borough, who confirms or splits it;
other boroughs' coordinators, agencies and other workers are refused; every read is audited."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub_common.fhir import systems as sys
from hub_common.fhir.systems import AGENCY_ID_SYSTEM, ODS_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters import orm
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings
from hub_router.adapters.fhir_task import task_snapshot
from tests.support.credentials import bearer
from tests.support.infra import Infrastructure
from tests.support.notifier_setup import organisation, own_stack, service_request
from tests.support.stack import IsolatedStack

pytestmark = pytest.mark.infra

GP = organisation(ODS_SYSTEM, "H85001")
POLICE = organisation(AGENCY_ID_SYSTEM, "police:met-croydon")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def person_request(
    referral_id: str,
    org: dict[str, str],
    source: str,
    *,
    nhs: bool,
    family: str = "Mensah",
    given: str = "Gloria",
    born: str = "1958-07-14",
    phone: str = "07700 900789",
) -> dict[str, Any]:
    request = copy.deepcopy(service_request(referral_id, org, source=source, reference=referral_id))
    patient = request["contained"][0]
    if not nhs:
        del patient["identifier"]
    patient["name"] = [{"family": family, "given": [given]}]
    patient["birthDate"] = born
    patient["telecom"] = [{"system": "phone", "value": phone}]
    return request


def token(stack: IsolatedStack, role: str, subject: str, **scope: Any) -> dict[str, str]:
    principal = Principal(role, subject=subject, **scope)  # type: ignore[arg-type]
    return bearer(issue_token(stack.auth_secret, principal))


def accepted(
    referral_id: str,
    org: dict[str, str],
    source: str,
    owner: str,
    *,
    version: int = 2,
    status: str = "accepted",
    step: str = "allocated",
) -> dict[str, Any]:
    return task_snapshot(
        referral_id=referral_id,
        episode_id=f"episode-{referral_id}",
        version=version,
        status=status,
        business_status=step,
        owner=owner,
        requester={"type": "Organization", "identifier": org},
        referrer_identifier={"system": sys.referrer_reference_system(source), "value": "R"},
        authored_on=START.isoformat(),
        last_modified=START + timedelta(minutes=version),
    )


@pytest.fixture
async def world(
    infra: Infrastructure,
) -> AsyncIterator[tuple[IsolatedStack, httpx.AsyncClient, Any]]:
    stack, drop = await own_stack(infra)
    settings = NotifierSettings(
        database_url=stack.database_url,
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
        topic_prefix=stack.topic_prefix,
        auth_secret=stack.auth_secret,
    )
    app = build_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield stack, client, app
    finally:
        await app.state.engine.dispose()
        await drop()


async def audited(app: Any, route: str, referral_id: str) -> list[str]:
    """The actions on record for a referral through one route template (staged in the outbox,
    as every service's entries are, before the relay publishes them)."""
    async with app.state.engine.connect() as connection:
        rows = await connection.execute(select(orm.outbox.c.value))
        found = []
        for (value,) in rows:
            text = value.decode() if isinstance(value, bytes) else str(value)
            if route in text and referral_id in text:
                found.append(text)
    return found


async def test_a_gp_and_a_police_referral_of_one_person_are_linked_and_shown(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any],
) -> None:
    stack, client, app = world
    gp_id, police_id, stranger_id = (str(uuid.uuid4()) for _ in range(3))
    record = app.state.service.record_request
    await record(person_request(gp_id, GP, "fhir", nhs=True), str(uuid.uuid4()))
    # The police know her by a typo'd name, an international phone form, and no NHS number.
    police = person_request(
        police_id, POLICE, "police", nhs=False, family="Mensha", phone="+44 7700 900789"
    )
    await record(police, str(uuid.uuid4()))
    other = person_request(
        stranger_id,
        POLICE,
        "police",
        nhs=False,
        family="Adeyemi",
        given="Tunde",
        born="1990-01-02",
        phone="07000 111222",
    )
    await record(other, str(uuid.uuid4()))
    await app.state.service.record_task(
        accepted(police_id, POLICE, "police", "lw-ada"), str(uuid.uuid4())
    )

    path = f"/people/referrals/{police_id}"
    answer = await client.get(path, headers=token(stack, "link_worker", "lw-ada"))
    assert answer.status_code == 200, answer.text
    referrals = answer.json()["referrals"]
    assert [r["referralId"] for r in referrals] == [gp_id, police_id]
    assert {r["referralId"]: r["linkedBy"] for r in referrals} == {
        gp_id: "self",
        police_id: "demographics",
    }
    assert [r["source"] for r in referrals] == ["fhir", "police"]
    # Her episode is the open referral received first, the GP's (no Task yet: still open).
    assert [r["episode"] for r in referrals] == [True, False]
    assert "Mensah" not in answer.text and "9434765919" not in answer.text  # routing facts only
    assert await audited(app, "/people/referrals/{referral_id}", police_id)

    # Another worker, an agency (even the referrer), an operator, another borough: refused.
    refusals = {
        "other worker": (token(stack, "link_worker", "lw-ben"), 404),
        "referring agency": (
            token(stack, "agency", "police", organisation=f"{POLICE['system']}|{POLICE['value']}"),
            403,
        ),
        "operator": (token(stack, "operator", "ops"), 403),
        "other borough": (token(stack, "coordinator", "co-sutton", boroughs=("Sutton",)), 404),
    }
    for who, (headers, code) in refusals.items():
        assert (await client.get(path, headers=headers)).status_code == code, who
    croydon = token(stack, "coordinator", "co-croydon", boroughs=("Croydon",))
    coordinator_view = (await client.get(f"/people/referrals/{gp_id}", headers=croydon)).json()
    assert len(coordinator_view["referrals"]) == 2
    stranger = (await client.get(f"/people/referrals/{stranger_id}", headers=croydon)).json()
    assert [r["referralId"] for r in stranger["referrals"]] == [stranger_id]
    # Nothing about these to decide: all certain.
    assert (await client.get("/coordination/people/reviews", headers=croydon)).json() == {
        "reviews": []
    }


async def test_an_uncertain_pair_is_confirmed_or_split_by_a_coordinator_of_the_borough(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any],
) -> None:
    stack, client, app = world
    first, twin, swapped = (str(uuid.uuid4()) for _ in range(3))
    record = app.state.service.record_request
    await record(person_request(first, GP, "fhir", nhs=False, given="Amy"), str(uuid.uuid4()))
    # Her twin sister: everything the same but the given name. Never linked alone.
    await record(person_request(twin, POLICE, "police", nhs=False, given="Ann"), str(uuid.uuid4()))
    croydon = token(stack, "coordinator", "co-croydon", boroughs=("Croydon",))
    sutton = token(stack, "coordinator", "co-sutton", boroughs=("Sutton",))
    reviews = (await client.get("/coordination/people/reviews", headers=croydon)).json()["reviews"]
    assert len(reviews) == 1
    review = reviews[0]
    assert (review["referral"]["referralId"], review["other"]["referralId"]) == (twin, first)
    assert (review["referral"]["given"], review["other"]["given"]) == (["ann"], ["amy"])
    assert 0.7 <= review["score"] < 1.0
    assert await audited(app, "/coordination/people/reviews", twin)
    assert (await client.get("/coordination/people/reviews", headers=sutton)).json() == {
        "reviews": []
    }
    agency = token(stack, "agency", "gp", organisation=f"{GP['system']}|{GP['value']}")
    assert (await client.get("/coordination/people/reviews", headers=agency)).status_code == 403

    split = f"/coordination/people/reviews/{review['reviewId']}/$split"
    assert (await client.post(split, headers=sutton)).status_code == 404  # not their borough
    assert (await client.post(split, headers=agency)).status_code == 403
    answer = await client.post(split, headers=croydon)
    assert answer.json() == {
        "reviewId": review["reviewId"],
        "status": "split",
        "referrals": [twin, first],
    }
    assert (await client.post(split, headers=croydon)).status_code == 409  # decided
    assert (await client.get("/coordination/people/reviews", headers=croydon)).json() == {
        "reviews": []
    }
    seen = (await client.get(f"/people/referrals/{twin}", headers=croydon)).json()["referrals"]
    assert [r["referralId"] for r in seen] == [twin]
    assert await audited(app, "/coordination/people/reviews/{review_id}/$split", twin)

    # Family and given names swapped by the referrer: asked about, then confirmed.
    await record(
        person_request(
            swapped, POLICE, "police", nhs=False, family="Amy", given="Mensah", phone="07000 000001"
        ),
        str(uuid.uuid4()),
    )
    reviews = (await client.get("/coordination/people/reviews", headers=croydon)).json()["reviews"]
    about_first = [r for r in reviews if r["other"]["referralId"] == first]
    assert len(about_first) == 1 and about_first[0]["swappedNames"] is True
    confirm = f"/coordination/people/reviews/{about_first[0]['reviewId']}/$confirm"
    assert (await client.post(confirm, headers=croydon)).json()["status"] == "confirmed"
    seen = (await client.get(f"/people/referrals/{first}", headers=croydon)).json()["referrals"]
    assert {r["referralId"]: r["linkedBy"] for r in seen} == {first: "self", swapped: "coordinator"}
    async with app.state.engine.connect() as connection:
        decided = (
            (
                await connection.execute(
                    select(orm.person_reviews.c.decided_by).where(
                        orm.person_reviews.c.status != "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(decided) == ["co-croydon", "co-croydon"]


async def test_a_practice_hears_of_the_acceptance_once_per_episode_the_open_referral(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any],
) -> None:
    """Two referrals from one GP practice while the first is open are one episode: the code
    871731000000106 goes with the first contact of the first only. Once both are closed, a
    new referral is a new episode, and the practice hears of its acceptance again."""
    _, _, app = world
    first, second, later = (str(uuid.uuid4()) for _ in range(3))
    service = app.state.service

    async def referral(referral_id: str) -> None:
        request = service_request(
            referral_id,
            GP,
            source="fhir",
            reference=referral_id,
            referrer_email="gp@example.nhs.uk",
        )
        await service.record_request(request, str(uuid.uuid4()))

    async def move(referral_id: str, version: int, status: str, step: str) -> None:
        task = accepted(
            referral_id, GP, "fhir", "lw-ada", version=version, status=status, step=step
        )
        await service.record_task(task, str(uuid.uuid4()))

    async def coded_emails(referral_id: str) -> int:
        d = orm.deliveries
        async with app.state.engine.connect() as connection:
            bodies = (
                await connection.execute(
                    select(d.c.body).where(d.c.referral_id == referral_id, d.c.kind == "email")
                )
            ).scalars()
            return sum(b"871731000000106" in body for body in bodies)

    await referral(first)
    await move(first, 2, "accepted", "allocated")
    await move(first, 3, "in-progress", "first-contact-made")
    await referral(second)  # the same person (NHS number), while the first is open
    await move(second, 2, "accepted", "allocated")
    await move(second, 3, "in-progress", "first-contact-made")
    assert (await coded_emails(first), await coded_emails(second)) == (1, 0)

    for referral_id in (first, second):
        await move(referral_id, 4, "completed", "connected-to-services")
    await referral(later)  # nothing open: a new episode
    await move(later, 2, "accepted", "allocated")
    await move(later, 3, "in-progress", "first-contact-made")
    assert await coded_emails(later) == 1


async def test_a_referral_like_two_people_never_joins_people_held_apart(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any],
) -> None:
    """A referral certain on its own about two people who must stay two (split by a
    coordinator, or with two NHS numbers) joins the stronger one and leaves the other to a
    coordinator: a link never undoes a split."""
    stack, client, app = world
    amy, ann, both, nhs_one, nhs_two, neither = (str(uuid.uuid4()) for _ in range(6))
    record = app.state.service.record_request
    croydon = token(stack, "coordinator", "co-croydon", boroughs=("Croydon",))
    await record(person_request(amy, GP, "fhir", nhs=False, given="Amy"), str(uuid.uuid4()))
    await record(person_request(ann, POLICE, "police", nhs=False, given="Ann"), str(uuid.uuid4()))
    [review] = (await client.get("/coordination/people/reviews", headers=croydon)).json()["reviews"]
    split = f"/coordination/people/reviews/{review['reviewId']}/$split"
    assert (await client.post(split, headers=croydon)).status_code == 200
    # Known to one agency by both given names: certain of Amy and of Ann alike.
    await record(
        person_request(both, POLICE, "police", nhs=False, given="Amy Ann"), str(uuid.uuid4())
    )

    async def person_of(referral_id: str) -> set[str]:
        answer = await client.get(f"/people/referrals/{referral_id}", headers=croydon)
        return {r["referralId"] for r in answer.json()["referrals"]}

    joined = await person_of(both)
    assert joined in ({both, amy}, {both, ann})
    pending = (await client.get("/coordination/people/reviews", headers=croydon)).json()["reviews"]
    assert [(r["referral"]["referralId"], r["other"]["referralId"]) for r in pending] == [
        (both, ({amy, ann} - joined).pop())
    ]

    # Two NHS numbers are two people; a referral without one, like both, joins only one.
    for referral_id, number in ((nhs_one, "9434765919"), (nhs_two, "9434765870")):
        request = person_request(referral_id, GP, "fhir", nhs=True, family="Osei", given="Kofi")
        request["contained"][0]["identifier"][0]["value"] = number
        await record(request, str(uuid.uuid4()))
    await record(
        person_request(neither, POLICE, "police", nhs=False, family="Osei", given="Kofi"),
        str(uuid.uuid4()),
    )
    assert await person_of(nhs_one) != await person_of(nhs_two)
    assert len(await person_of(neither)) == 2


async def test_one_persons_referrals_in_one_batch_meet_and_merge_people_found_apart(
    world: tuple[IsolatedStack, httpx.AsyncClient, Any],
) -> None:
    """A batch is linked as if one by one: a later referral meets an earlier one of the same
    batch. A referral certain of two people found apart (one knew her by a nickname, one by
    her NHS number) makes them one."""
    stack, _, app = world
    gp, police, nickname, bridge = (str(uuid.uuid4()) for _ in range(4))
    croydon = token(stack, "coordinator", "co-croydon", boroughs=("Croydon",))
    await app.state.service.record_requests(
        [
            (person_request(gp, GP, "fhir", nhs=True), str(uuid.uuid4())),
            (person_request(police, POLICE, "police", nhs=False), str(uuid.uuid4())),
            # A short name: alike, but the given names too far apart to be certain.
            (person_request(nickname, POLICE, "police", nhs=False, given="Ria"), str(uuid.uuid4())),
        ]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:

        async def person_of(referral_id: str) -> set[str]:
            answer = await client.get(f"/people/referrals/{referral_id}", headers=croydon)
            return {r["referralId"] for r in answer.json()["referrals"]}

        assert await person_of(police) == {gp, police}
        assert await person_of(nickname) == {nickname}
        # Known by both given names: certain of Gloria (GP and police) and of Ria alike.
        both = person_request(bridge, POLICE, "police", nhs=False, given="Gloria Ria")
        await app.state.service.record_requests([(both, str(uuid.uuid4()))])
        assert await person_of(nickname) == {gp, police, nickname, bridge}
