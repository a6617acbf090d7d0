"""BaRS messages for tests, in the shape of the standard's own examples (invented people).

`referral()` is tests/fixtures/inbound/bars-referral-message.json; `amendment()` and
`cancellation()` are the update messages a sender makes after reading the ServiceRequest back.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.support.fixtures import inbound

REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"


def referral(reference: str | None = None) -> dict[str, Any]:
    """A new referral message; `reference` replaces the referrer's reference."""
    message: dict[str, Any] = json.loads(inbound("bars-referral-message.json"))
    message["id"] = str(uuid.uuid4())
    header(message)["id"] = str(uuid.uuid4())
    if reference is not None:
        service_request(message)["identifier"][0]["value"] = reference
    return message


def header(message: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = message["entry"][0]["resource"]
    return resource


def service_request(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    )


def _update(message: dict[str, Any], read_version: int | None) -> dict[str, Any]:
    update = copy.deepcopy(message)
    update["id"] = str(uuid.uuid4())
    header(update)["id"] = str(uuid.uuid4())
    header(update)["reason"] = {"coding": [{"system": REASON_SYSTEM, "code": "update"}]}
    if read_version is not None:
        service_request(update)["meta"] = {"versionId": str(read_version)}
    return update


def amendment(message: dict[str, Any], read_version: int | None, needs: str) -> dict[str, Any]:
    """The referral sent again with new reasons, as an update of the version read."""
    update = _update(message, read_version)
    service_request(update)["reasonCode"] = [{"text": needs}]
    return update


def cancellation(message: dict[str, Any], read_version: int | None) -> dict[str, Any]:
    """A stripped-back cancellation: the header and the ServiceRequest, status revoked."""
    update = _update(message, read_version)
    request = service_request(update)
    request["status"] = "revoked"
    update["entry"] = [
        update["entry"][0],
        {"fullUrl": f"urn:uuid:{request['id']}", "resource": request},
    ]
    return update
