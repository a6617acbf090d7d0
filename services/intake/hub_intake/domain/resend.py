"""Whether a resend of a referral (same source, same referrer reference) says something new.

A true resend (a retry after a timeout, a replay) is the same referral and answers with its
id. A resend that changes what the hub holds (a new phone number, new words) must not be
dropped silently as a duplicate: the hub refuses it as a conflict naming each field that
differs, so the agency knows its change did not land and can phone the link worker or send a
new referral. (Amending a referral in place is BaRS's amend, not a plain resend.)

Compared on the ServiceRequest the hub would publish, so every format is compared the same
way, in FHIR's terms. What a resend may legitimately change is left out: the hub's ids and
episode, times a format fills from the moment of receipt, and how the sender names itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from hub_common.fhir.outcome import Issue

IGNORED = frozenset({"id", "meta", "identifier", "extension", "authoredOn", "requester"})
IGNORED_IN = {"Consent": frozenset({"dateTime"})}
# Who sent it is not what it says: one organisation may write its name two ways, and over
# HTTP its credential names it (see resend_refusals, which settles the sender first).
IGNORED_KINDS = frozenset({"Organization", "PractitionerRole", "Practitioner"})


def _contained(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(part.get("id")): part
        for part in resource.get("contained") or []
        if isinstance(part, dict)
    }


def changed_fields(stored: dict[str, Any], resent: dict[str, Any]) -> list[str]:
    """The FHIR paths (`Patient.telecom`, `ServiceRequest.note`) whose values differ."""
    changed = [
        f"ServiceRequest.{key}"
        for key in sorted(set(stored) | set(resent))
        if key not in IGNORED and key != "contained" and stored.get(key) != resent.get(key)
    ]
    before, after = _contained(stored), _contained(resent)
    for part_id in sorted(set(before) | set(after)):
        old, new = before.get(part_id, {}), after.get(part_id, {})
        kind = str(new.get("resourceType") or old.get("resourceType") or part_id)
        if kind in IGNORED_KINDS:
            continue
        ignored = IGNORED_IN.get(kind, frozenset()) | {"id", "resourceType"}
        changed += [
            f"{kind}.{key}"
            for key in sorted(set(old) | set(new))
            if key not in ignored and old.get(key) != new.get(key)
        ]
    return changed


class Recorded(Protocol):
    """What the hub holds under the resend's reference."""

    @property
    def referral_id(self) -> str: ...
    @property
    def sending_agency(self) -> str | None: ...
    @property
    def service_request(self) -> dict[str, Any] | None: ...


def resend_refusals(recorded: Recorded, agency: str | None, resent: dict[str, Any]) -> list[Issue]:
    """Why a resend (its ServiceRequest `resent`, from verified sender `agency`) is refused
    rather than answered as the referral recorded under its reference; none for a true resend.

    Another organisation sent the first: one source carries many organisations (every housing
    association, every community group), and taking their clash of references for a resend
    would drop this referral and hand its sender someone else's id. Only verified senders are
    compared: refusing a true resend would have its sender send the person again under a new
    reference. A changed resend is refused naming each field that differs, never dropped."""
    if recorded.sending_agency and agency and recorded.sending_agency != agency:
        return [
            Issue(
                "(reference)",
                "another organisation's referral from this source has this reference"
                " already; send the referral again with a reference of your own",
                code="duplicate",
            )
        ]
    if recorded.service_request is None:
        return []
    return [
        Issue(
            path,
            f"differs from referral {recorded.referral_id}, received before under this "
            "reference; a resend cannot change a referral: tell its link worker, or send a "
            "new referral under a new reference",
            code="conflict",
        )
        for path in changed_fields(recorded.service_request, resent)
    ]
