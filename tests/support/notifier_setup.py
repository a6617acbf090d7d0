"""Building blocks of the notifier's tests: its own isolated stack, the service as a real
process with fast retry timings, and the referrals and Task snapshots the hub would publish."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub_common.fhir import systems as sys
from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument, Timepoint, WellbeingMeasure
from hub_router.adapters.fhir_task import task_snapshot
from tests.support.infra import Infrastructure
from tests.support.processes import ServiceProcess
from tests.support.stack import IsolatedStack, drop_database, prepare, run_id

PERSON_NAME = ("Gloria", "Mensah")
NHS_NUMBER = "9434765919"
PERSON_ADDRESS = "31 Brigstock Road"
PERSONAL = (*PERSON_NAME, NHS_NUMBER, PERSON_ADDRESS, "07700 900789")
"""What must never appear in anything the notifier sends."""

FAST_RETRIES = {
    "NOTIFIER_ALLOW_HTTP_ENDPOINTS": "true",
    "NOTIFIER_RETRY_BASE_SECONDS": "0.05",
    "NOTIFIER_RETRY_MAX_DELAY_SECONDS": "0.25",
    "NOTIFIER_RETRY_FOR_SECONDS": "2.5",
    "NOTIFIER_DELIVERY_TIMEOUT_SECONDS": "1.5",
    "NOTIFIER_DELIVERY_LEASE_SECONDS": "2.5",
}


async def own_stack(infra: Infrastructure) -> tuple[IsolatedStack, Callable[[], Any]]:
    """A stack of the notifier tests' own: their events never reach another test's topics."""
    run = run_id()
    stack = await prepare(infra.kafka_bootstrap_servers, infra.database_url, run)

    async def drop() -> None:
        await drop_database(infra.database_url, f"hub_test_{run}")

    return stack, drop


WEB_URL = "https://web.referral-hub.example"  # where e-mails' links lead (HUB_WEB_URL)


def notifier_process(
    stack: IsolatedStack, log_dir: Path, extra_env: dict[str, str] | None = None
) -> ServiceProcess:
    process = ServiceProcess(
        "notifier", {**stack.env(), **FAST_RETRIES, **(extra_env or {})}, log_dir
    )
    process.env["NOTIFIER_PUBLIC_URL"] = process.url
    process.env.setdefault("HUB_WEB_URL", WEB_URL)
    return process


def organisation(system: str, value: str) -> dict[str, str]:
    return {"system": system, "value": value}


def service_request(
    referral_id: str,
    org: dict[str, str],
    *,
    source: str = "community",
    reference: str = "REF-1",
    referrer_email: str | None = None,
    postcode: str = "CR7 8RS",
) -> dict[str, Any]:
    """A ServiceRequest shaped like intake's, with a named person and an NHS number in it."""
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": "requester",
        "organization": {"reference": "#requester-org"},
    }
    if referrer_email:
        role["telecom"] = [{"system": "email", "value": referrer_email}]
    return {
        "resourceType": "ServiceRequest",
        "id": referral_id,
        "contained": [
            {
                "resourceType": "Patient",
                "id": "patient",
                "identifier": [{"system": sys.NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}],
                "name": [{"family": PERSON_NAME[1], "given": [PERSON_NAME[0]]}],
                "telecom": [{"system": "phone", "value": "07700 900789"}],
                "address": [{"line": [PERSON_ADDRESS], "postalCode": postcode}],
            },
            {"resourceType": "Organization", "id": "requester-org", "identifier": [org]},
            role,
        ],
        "identifier": [
            {"system": sys.REFERRAL_ID_SYSTEM, "value": referral_id},
            {"system": sys.referrer_reference_system(source), "value": reference},
        ],
        "status": "active",
        "intent": "order",
        "subject": {"reference": "#patient"},
        "requester": {"reference": "#requester"},
        "authoredOn": "2026-03-01T09:00:00+00:00",
    }


FIRST_CONTACT = WellbeingMeasure(
    Instrument.ONS4,
    Timepoint.FIRST_CONTACT,
    datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
)
FIRST_CONTACT_OUTCOMES = Outcomes(measures=(FIRST_CONTACT,))
CLOSING_OUTCOMES = Outcomes(
    "Goes to the carers' cafe weekly; benefits claim made",
    (
        FIRST_CONTACT,
        WellbeingMeasure(
            Instrument.SWEMWBS,
            Timepoint.CLOSURE,
            datetime(2026, 5, 20, 10, 0, tzinfo=UTC),
            tuple((code, 4) for code in INSTRUMENTS[Instrument.SWEMWBS].codes),
        ),
    ),
    (
        SupportOffered(
            NeedCategory.CARER_SUPPORT,
            SupportKind.ATTENDED,
            "Croydon carers' cafe",
            "croydon-carers",
        ),
        SupportOffered(NeedCategory.MONEY_DEBT_BENEFITS, SupportKind.REFERRED, "Welfare advice"),
    ),
)
"""What the router's Tasks carry, built by the shared mapper (as the router does)."""

STEPS: dict[str, list[tuple[str, str, str | None]]] = {
    # status, businessStatus, statusReason: through every status of the Task machine
    "completed": [
        ("requested", "offered", None),
        ("accepted", "allocated", None),
        ("in-progress", "contact-attempted", None),
        ("on-hold", "unable-to-contact", "person away for two weeks"),
        ("in-progress", "first-contact-made", None),
        ("completed", "connected-to-services", None),
    ],
    "rejected": [("requested", "offered", None), ("rejected", "offered", "outside area")],
    "declined": [
        ("requested", "offered", None),
        ("accepted", "allocated", None),
        ("failed", "declined-by-person", "the person declined"),
    ],
    "cancelled": [("requested", "offered", None), ("cancelled", "offered", "referrer withdrew")],
    "in-error": [("requested", "offered", None), ("entered-in-error", "offered", "duplicate")],
}


def task_versions(
    referral_id: str,
    org: dict[str, str],
    steps: list[tuple[str, str, str | None]],
    *,
    source: str = "community",
    reference: str = "REF-1",
    start: datetime | None = None,
    first_version: int = 1,
) -> list[dict[str, Any]]:
    """Task snapshots as the router publishes them, one per step, versions counting up."""
    start = start or datetime.now(UTC)
    tasks = []
    for n, (status, business, reason) in enumerate(steps):
        task = task_snapshot(
            referral_id=referral_id,
            episode_id=f"episode-{referral_id}",
            version=first_version + n,
            status=status,
            business_status=business,
            owner="lw-cr-1",
            requester={"type": "Organization", "identifier": org},
            referrer_identifier={
                "system": sys.referrer_reference_system(source),
                "value": reference,
            },
            authored_on="2026-03-01T09:00:00+00:00",
            last_modified=start + timedelta(seconds=n),
            status_reason=reason,
            outcomes=CLOSING_OUTCOMES
            if status == "completed"
            else FIRST_CONTACT_OUTCOMES
            if business == "first-contact-made"
            else None,
        )
        tasks.append(task)
    return tasks


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 15.0,
    what: str = "condition",
    interval: float = 0.05,
) -> Any:
    """Poll `check` (sync or async) every `interval` s until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def restart_without_waiting(process: ServiceProcess) -> None:
    """Start `process` again and return at once: its background loops (the delivery worker)
    run while its Kafka consumers are still rejoining their group, which a crash test should
    not sit through."""
    import os
    import subprocess
    import sys as system

    from tests.support.infra import REPO
    from tests.support.processes import PORT_VARIABLE

    env = {**os.environ, **process.env, PORT_VARIABLE[process.name]: str(process.port)}
    log = process.log_path.open("ab")
    process.process = subprocess.Popen(
        [system.executable, "-m", f"hub_{process.name}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
