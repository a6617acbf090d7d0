"""NHS England's Booking and Referral Standard (BaRS): a referral as a FHIR message Bundle.

A BaRS message is a Bundle of type `message` whose first entry is a MessageHeader saying where
it comes from (`source.endpoint`), where it goes (`destination.endpoint`), what it is
(`eventCoding` servicerequest-request), whether it is `new` or an `update` (`reason`), which
resource to start from (`focus`, the ServiceRequest) and which MessageDefinition it obeys
(`definition`). The receiver checks the header first and refuses a message whose definition it
does not enforce. This module checks the header and what the hub enforces of the referral
MessageDefinition, then hands the ServiceRequest to the plain FHIR reader (`fhir_bundle`), so a
BaRS referral and a plain FHIR one become the same referral. docs/bars.md says which parts of
the standard the hub follows.

An `update` is a cancellation (the focus ServiceRequest `revoked`) or an amendment (the focus
ServiceRequest `active`, the whole referral again); its Reading carries a ReferralUpdate, which
intake applies to the referral it already holds (service_layer/referral_updates.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub_common.fhir.outcome import Issue
from hub_intake.adapters.formats import fhir_resources as fr
from hub_intake.adapters.formats.base import Reading, ReferralUpdate, ReferrerContact

EVENTS_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
REFERRAL_EVENT = "servicerequest-request"
REFERRAL_DEFINITION = (
    "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral"
)
BARS_DEFINITIONS = "https://fhir.nhs.uk/MessageDefinition/bars-"
REASONS = ("new", "update")
HEADER = "MessageHeader"
FOCUS = "Bundle.entry[ServiceRequest]"

ReadReferral = Callable[[dict[str, Any], datetime], list[Reading]]


def is_message(document: dict[str, Any]) -> bool:
    """A message Bundle whose MessageHeader claims BaRS (its event system, or a BaRS
    MessageDefinition): held to the standard. Other message Bundles on the plain routes and
    the Kafka topic are read as before, header ignored; `$process-message` takes only BaRS."""
    if document.get("resourceType") != "Bundle" or document.get("type") != "message":
        return False
    headers = [r for _, r in _entries(document) if r.get("resourceType") == HEADER]
    return any(
        _object(h.get("eventCoding")).get("system") == EVENTS_SYSTEM
        or str(h.get("definition") or "").startswith(BARS_DEFINITIONS)
        for h in headers
    )


@dataclass(frozen=True)
class Header:
    """What the acknowledgement needs of a request's MessageHeader (each may be missing)."""

    message_id: str | None
    source_endpoint: str | None
    destination_endpoint: str | None
    reason: str | None


def header_of(document: dict[str, Any]) -> Header:
    """The request's header as far as it can be read, for answering it."""
    entries = _entries(document)
    header = entries[0][1] if entries and entries[0][1].get("resourceType") == HEADER else {}
    source = _object(header.get("source"))
    destination = (fr.objects(header.get("destination")) or [{}])[0]
    return Header(
        message_id=_text(header.get("id")),
        source_endpoint=_text(source.get("endpoint")),
        destination_endpoint=_text(destination.get("endpoint")),
        reason=_reason(header),
    )


def read_message(
    document: dict[str, Any], received_at: datetime, read_referral: ReadReferral
) -> list[Reading]:
    """One Reading: the referral (new, or an amendment) or a cancellation, with every fault."""
    issues: list[Issue] = []
    entries = _entries(document)
    header = _check_header(entries, issues)
    request = _focus(header, entries, issues) if header is not None else None
    if request is None:
        return [Reading(None, document, ReferrerContact(), issues=issues)]
    _check_mandatory(request, issues)
    reason = _reason(header or {})
    status = request.get("status")
    version = _version(request, issues)
    if reason == "update" and status == "revoked":
        # A cancellation carries what identifies the referral, not the referral again.
        reading = Reading(_identifier(request), document, ReferrerContact(), issues=issues)
        reading.update = ReferralUpdate("cancel", version)
        return [reading]
    if reason == "update" and status != "active":
        issues.append(
            Issue(
                f"{FOCUS}.status",
                "an update is an amendment (status active) or a cancellation (status revoked)",
                code="value",
            )
        )
    # The plain reader reads a message Bundle as it reads any other: same fields, same checks.
    [reading] = read_referral(document, received_at)
    reading.issues[:0] = issues  # the header's faults first, as the standard checks them first
    if reason == "update":
        reading.update = ReferralUpdate("amend", version)
    return [reading]


def _entries(document: dict[str, Any]) -> list[tuple[Any, fr.Resource]]:
    return [
        (entry.get("fullUrl"), entry["resource"])
        for entry in fr.objects(document.get("entry"))
        if isinstance(entry.get("resource"), dict)
    ]


def _check_header(
    entries: list[tuple[Any, fr.Resource]], issues: list[Issue]
) -> fr.Resource | None:
    """The MessageHeader, with a precise issue for each element the standard makes mandatory."""
    if not entries or entries[0][1].get("resourceType") != HEADER:
        issues.append(
            Issue(
                "Bundle.entry[0]",
                "a message's first entry must be its MessageHeader",
                "error",
                "structure",
            )
        )
        return None
    header = entries[0][1]
    if _text(header.get("id")) is None:
        issues.append(
            Issue(
                f"{HEADER}.id",
                "the MessageHeader needs an id, which the acknowledgement names",
                code="required",
            )
        )
    event = _object(header.get("eventCoding"))
    if event.get("system") != EVENTS_SYSTEM or event.get("code") != REFERRAL_EVENT:
        issues.append(
            Issue(
                f"{HEADER}.eventCoding",
                f"this hub takes referral requests only: {EVENTS_SYSTEM} code {REFERRAL_EVENT}"
                f" (got {event.get('code')!r}); bookings and responses are not supported",
                code="not-supported",
            )
        )
    source = _object(header.get("source"))
    if _text(source.get("endpoint")) is None:
        issues.append(
            Issue(f"{HEADER}.source.endpoint", "the sender's endpoint is required", code="required")
        )
    destinations = fr.objects(header.get("destination"))
    if not destinations or _text(destinations[0].get("endpoint")) is None:
        issues.append(
            Issue(
                f"{HEADER}.destination.endpoint",
                "the receiving endpoint is required",
                code="required",
            )
        )
    if _reason(header) is None:
        issues.append(
            Issue(
                f"{HEADER}.reason",
                f"a coding of {REASON_SYSTEM}: new or update",
                code="required",
            )
        )
    definition = _text(header.get("definition"))
    if definition is None or definition.split("|")[0] != REFERRAL_DEFINITION:
        issues.append(
            Issue(
                f"{HEADER}.definition",
                f"this hub enforces {REFERRAL_DEFINITION} (a referral request); the message "
                f"names {definition!r}",
                code="not-supported" if definition else "required",
            )
        )
    return header


def _focus(
    header: fr.Resource, entries: list[tuple[Any, fr.Resource]], issues: list[Issue]
) -> fr.Resource | None:
    """The ServiceRequest the header's one focus points at, in this Bundle."""
    focus = fr.objects(header.get("focus"))
    resources = fr.ResourceSet(entries, [])
    target = resources.resolve(focus[0]) if len(focus) == 1 else None
    if target is None or target.get("resourceType") != "ServiceRequest":
        issues.append(
            Issue(
                f"{HEADER}.focus",
                "must be one reference to the ServiceRequest entry of this Bundle (its fullUrl)",
                code="required" if not focus else "invalid",
            )
        )
        return None
    return target


def _check_mandatory(request: fr.Resource, issues: list[Issue]) -> None:
    """The referral MessageDefinition's mandatory ServiceRequest elements that the plain
    reader does not already require (identifier, subject and requester it checks itself)."""
    for element in ("status", "intent"):
        if _text(request.get(element)) is None:
            issues.append(Issue(f"{FOCUS}.{element}", "is mandatory in BaRS", code="required"))


def _version(request: fr.Resource, issues: list[Issue]) -> int | None:
    """The version the sender read before updating (meta.versionId), if it says."""
    meta = _object(request.get("meta"))
    value = meta.get("versionId")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    issues.append(
        Issue(f"{FOCUS}.meta.versionId", "expected the version number read", code="value")
    )
    return None


def _reason(header: fr.Resource) -> str | None:
    reason = _object(header.get("reason"))
    return next(
        (
            c["code"]
            for c in fr.objects(reason.get("coding"))
            if c.get("system") == REASON_SYSTEM and c.get("code") in REASONS
        ),
        None,
    )


def _identifier(resource: fr.Resource) -> str | None:
    first = (fr.objects(resource.get("identifier")) or [{}])[0]
    return _text(first.get("value"))


def _object(value: Any) -> fr.Resource:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
