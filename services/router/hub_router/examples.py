"""The router's example messages for `schemas/examples/`, built by its real mapping code.

The CLI's `schemas write` asks each service for its examples through its public module, so
the examples change only when the mapping code does (fixed ids and times in, fixed files out).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub_router.adapters.fhir_task import task_snapshot
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.adapters.service_request import read_service_request
from hub_router.domain.model import LinkWorker


def example_messages(service_request: dict[str, Any], at: datetime) -> dict[str, dict[str, Any]]:
    """The Task offered for `service_request` and a link worker's PractitionerRole, by the
    path of each under schemas/."""
    facts = read_service_request(service_request)
    referral_id = str(service_request["id"])
    task = task_snapshot(
        referral_id=referral_id,
        episode_id=facts.route.episode_id,
        version=1,
        status="requested",
        business_status="offered",
        owner="lw-croydon-01",
        requester=facts.requester,
        referrer_identifier=facts.referrer_identifier,
        authored_on=facts.authored_on,
        last_modified=at,
        offer_expires_at=at + timedelta(days=2),
    )
    worker = LinkWorker(
        "lw-croydon-01",
        boroughs=frozenset({"Croydon"}),
        postcode_districts=frozenset({"CR0", "CR7"}),
        languages=frozenset({"en", "tw"}),
    )
    return {
        "examples/referrals.tasks.json": task,
        "examples/linkworkers.directory.json": to_practitioner_role(
            worker, "Kwame Mensah-Boateng", None
        ),
    }
