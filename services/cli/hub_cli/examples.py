"""Example messages for schemas/examples/, built by the real mapping code from the agency
examples, with fixed ids and times so the files only change when the code does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub_common.jsonio import loads

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
    """Every example under schemas/examples/: each service builds its own from one community
    referral (intake's ServiceRequest is what the router reads), then the CLI's."""
    from hub_intake.public import example_messages as intake_examples
    from hub_router.public import example_messages as router_examples

    body = (EXAMPLE_SOURCE / "community-referral.json").read_bytes()
    examples = intake_examples(body, AT, REFERRAL_ID)
    examples.update(router_examples(examples["examples/referrals.requested.json"], AT))
    examples["examples/hub.audit.json"] = example_audit_entry()
    examples["examples/directory.services.json"] = example_directory_service()
    return examples
