"""Example messages for schemas/examples/, built by the real mapping code from the agency
examples, with fixed ids and times so the files only change when the code does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub_common.jsonio import dumps, loads

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
REFERRAL_ID = "0d7f5c2e-2b7a-4c1e-9a57-6f0e8c1d2a10"
EXAMPLE_SOURCE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "inbound"


def example_audit_entry() -> dict[str, Any]:
    """A link worker reading the Task they were offered, through a proxy."""
    from hub_common.security.audit import AuditEntry

    return AuditEntry(
        event_id="3f2b8c1d-6e4a-4b7f-9c0d-1a2b3c4d5e6f",
        at=AT,
        service="router",
        actor_role="link_worker",
        actor_subject="lw-croydon-01",
        actor_organisation=None,
        action="read",
        resource_type="Task",
        resource_ids=(REFERRAL_ID,),
        method="GET",
        route="/fhir/Task/{task_id}",
        peer="10.0.4.17",
        forwarded_for="203.0.113.24",
        outcome="200",
    ).to_json()


def example_directory_service() -> dict[str, Any]:
    """A community service from the ORUK (HSDS 3.0) test record, as directory.services holds it."""
    from hub_cli.directory.oruk import read_service
    from hub_common.region.directory import DirectoryService, to_bundle

    record = loads((EXAMPLE_SOURCE.parent / "directory" / "hsds3-service.json").read_bytes())
    service = read_service(record, "swl-services.oruk.json")
    assert isinstance(service, DirectoryService)
    return to_bundle(service)


def example_messages() -> dict[str, dict[str, Any]]:
    from hub_intake.adapters.fhir_mapping import to_service_request
    from hub_intake.adapters.formats.community import CommunityFormat
    from hub_intake.service_layer.intake_events import rejection_event
    from hub_router.adapters.fhir_task import task_snapshot
    from hub_router.adapters.practitioner_role import to_practitioner_role
    from hub_router.adapters.service_request import read_service_request
    from hub_router.domain.model import LinkWorker

    body = (EXAMPLE_SOURCE / "community-referral.json").read_bytes()
    [reading] = CommunityFormat().read(body, AT)
    assert reading.referral is not None
    request = to_service_request(reading.referral, REFERRAL_ID, REFERRAL_ID)
    facts = read_service_request(request)
    task = task_snapshot(
        referral_id=REFERRAL_ID,
        episode_id=facts.route.episode_id,
        version=1,
        status="requested",
        business_status="offered",
        owner="lw-croydon-01",
        requester=facts.requester,
        referrer_identifier=facts.referrer_identifier,
        authored_on=facts.authored_on,
        last_modified=AT,
        offer_expires_at=AT + timedelta(days=2),
    )
    refused = loads(body)
    refused["consent"] = False
    [refusal] = CommunityFormat().read(dumps(refused), AT)
    worker = LinkWorker(
        "lw-croydon-01",
        boroughs=frozenset({"Croydon"}),
        postcode_districts=frozenset({"CR0", "CR7"}),
        languages=frozenset({"en", "tw"}),
    )
    return {
        "examples/referrals.requested.json": request,
        "examples/referrals.tasks.json": task,
        "examples/referrals.rejected.json": rejection_event(
            "community", AT, refusal, "5b1c0e7a-8d44-4d0e-b3f5-0a9c2c7e1f11"
        ),
        "examples/linkworkers.directory.json": to_practitioner_role(
            worker, "Kwame Mensah-Boateng", None
        ),
        "examples/hub.audit.json": example_audit_entry(),
        "examples/directory.services.json": example_directory_service(),
    }
