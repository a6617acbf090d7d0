"""A FHIR Task as the pages show it: the fields they use, read once, defensively.

Tasks come from two APIs (the router's and the notifier's) and, for refusals at intake, in a
different shape (`status: rejected`, issues as outputs): one reader keeps the templates simple.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.fhir.task_outputs import Outcomes, UnreadableOutputs, read_outputs
from hub_common.fhir.task_status import BusinessStatus as B
from hub_common.fhir.task_status import TaskStatus as S
from hub_common.fhir.wellbeing import Timepoint
from hub_web.domain.naming import language_name, need_name, source_label

REFERRER_REF_MARK = "/Id/referrer-ref/"
REJECTION_SYSTEM_END = "/Id/rejection"
OWNER_PREFIX = "PractitionerRole/"

STATUS_LABELS: dict[str, str] = {
    S.REQUESTED: "Requested",
    S.ACCEPTED: "Accepted",
    S.IN_PROGRESS: "In progress",
    S.ON_HOLD: "On hold",
    S.COMPLETED: "Completed",
    S.FAILED: "Closed without success",
    S.CANCELLED: "Cancelled",
    S.REJECTED: "Refused",
    S.ENTERED_IN_ERROR: "Entered in error",
}

STEP_LABELS: dict[str, str] = {
    B.AWAITING_ALLOCATION: "Waiting for a coordinator",
    B.OFFERED: "Offered to a link worker",
    B.ALLOCATED: "Allocated",
    B.CONTACT_ATTEMPTED: "Contact attempted",
    B.FIRST_CONTACT_MADE: "First contact made",
    B.CONNECTED_TO_SERVICES: "Connected to services",
    B.UNABLE_TO_CONTACT: "Unable to contact",
    B.DECLINED_BY_PERSON: "Declined by the person",
}


def parse_instant(value: Any) -> datetime | None:
    """A FHIR instant or dateTime as an aware datetime (UTC when no zone); None if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RejectionIssue:
    """One reason intake refused a referral: an issue code and the fields at fault."""

    code: str
    fields: str


@dataclass(frozen=True)
class RoutingFacts:
    """What matters for taking a referral on, as the router shares it with those who work it."""

    needs: tuple[str, ...]
    language: str | None
    interpreter_needed: bool
    risk_to_visitors: bool
    district: str | None
    borough: str | None

    @property
    def needs_label(self) -> str:
        return ", ".join(need_name(need) for need in self.needs) or "none given"

    @property
    def language_label(self) -> str:
        return language_name(self.language)

    @property
    def area(self) -> str:
        return " · ".join(part for part in (self.district, self.borough) if part) or "unknown"


def _routing(task: dict[str, Any]) -> RoutingFacts | None:
    inputs = task.get("input")
    if not inputs:
        return None
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in inputs:
        by_kind.setdefault(_coding_code(item.get("type")), []).append(item)

    def first(kind: str, key: str) -> Any:
        return next((item.get(key) for item in by_kind.get(kind, [])), None)

    return RoutingFacts(
        needs=tuple(_coding_code(i.get("valueCodeableConcept")) for i in by_kind.get("need", [])),
        language=first("language", "valueCode"),
        interpreter_needed=bool(first("interpreter-needed", "valueBoolean")),
        risk_to_visitors=bool(first("risk-to-visitors", "valueBoolean")),
        district=first("postcode-district", "valueString"),
        borough=first("borough", "valueString"),
    )


@dataclass(frozen=True)
class TaskView:
    """The parts of one Task the pages use."""

    id: str
    version: int
    status: str
    step: str
    owner: str | None
    authored_on: datetime | None
    last_modified: datetime | None
    source: str | None
    referrer_reference: str | None
    status_reason: str | None
    outcomes: (
        Outcomes  # wellbeing measures, support offered, summary (hub_common.fhir.task_outputs)
    )
    rejection_issues: tuple[RejectionIssue, ...]
    is_rejection: bool
    routing: RoutingFacts | None = None  # the router's `input`: for link workers and coordinators
    requester_name: str | None = None  # the referring organisation, as it named itself
    offer_deadline: datetime | None = None  # `restriction.period.end` while an offer is open
    # The router's `note` when the referrer amended the referral (BaRS): shown to whoever holds it.
    amended: str | None = None

    @property
    def title(self) -> str:
        """The card's title: the kind of referral and who sent it ("GP referral from ...")."""
        kind = source_label(self.source)
        return f"{kind} from {self.requester_name}" if self.requester_name else kind

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def step_label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def services_connected(self) -> tuple[str, ...]:
        """The names of the services and activities in the support offered, in order."""
        return tuple(dict.fromkeys(s.service for s in self.outcomes.support))

    @property
    def onward_support(self) -> tuple[tuple[str, str], ...]:
        """Directory services the person was referred on to through the hub, with how far it
        went (`referred`: taken on; `attended`): the router writes these as the organisation
        answers, so the caseload shows them without reading each onward Task."""
        return tuple((s.service, s.kind.value) for s in self.outcomes.support if s.service_id)

    @property
    def first_contact_measured_at(self) -> datetime | None:
        """When the first wellbeing measure at first contact was taken, if one was."""
        times = [m.taken_at for m in self.outcomes.measures if m.when is Timepoint.FIRST_CONTACT]
        return min(times, default=None)

    @property
    def is_offer(self) -> bool:
        return self.status == S.REQUESTED and self.step == B.OFFERED


def _coding_code(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    coding = concept.get("coding") or [{}]
    return str(coding[0].get("code") or concept.get("text") or "")


def _issues(task: dict[str, Any]) -> tuple[RejectionIssue, ...]:
    issues: list[RejectionIssue] = []
    for output in task.get("output") or []:
        if _coding_code(output.get("type")) == "issue":
            concept = output.get("valueCodeableConcept") or {}
            issues.append(RejectionIssue(_coding_code(concept), str(concept.get("text") or "")))
    return tuple(issues)


def _outcomes(task: dict[str, Any]) -> Outcomes:
    # One malformed Task must not take down a page listing many: it shows as nothing recorded.
    try:
        return read_outputs(task)
    except UnreadableOutputs:
        return Outcomes()


def task_view(task: dict[str, Any]) -> TaskView:
    """Read the fields the pages use; absent ones become None or empty."""
    identifiers = task.get("identifier") or []
    source = next(
        (
            str(i["system"]).rsplit("/", 1)[-1]
            for i in identifiers
            if REFERRER_REF_MARK in str(i.get("system", ""))
        ),
        None,
    )
    reference = next(
        (
            str(i.get("value"))
            for i in identifiers
            if REFERRER_REF_MARK in str(i.get("system", "")) and i.get("value")
        ),
        None,
    )
    owner = str((task.get("owner") or {}).get("reference") or "").removeprefix(OWNER_PREFIX)
    try:
        version = int((task.get("meta") or {}).get("versionId") or 0)
    except ValueError:
        version = 0
    return TaskView(
        id=str(task.get("id") or ""),
        version=version,
        status=str(task.get("status") or ""),
        step=_coding_code(task.get("businessStatus")),
        owner=owner or None,
        authored_on=parse_instant(task.get("authoredOn")),
        last_modified=parse_instant(
            task.get("lastModified") or (task.get("meta") or {}).get("lastUpdated")
        ),
        source=source,
        referrer_reference=reference,
        status_reason=(task.get("statusReason") or {}).get("text"),
        outcomes=_outcomes(task),
        rejection_issues=_issues(task),
        is_rejection=any(
            str(i.get("system", "")).endswith(REJECTION_SYSTEM_END) for i in identifiers
        ),
        routing=_routing(task),
        requester_name=(task.get("requester") or {}).get("display") or None,
        offer_deadline=parse_instant(
            ((task.get("restriction") or {}).get("period") or {}).get("end")
        ),
        amended=next(
            (
                str(n["text"])
                for n in task.get("note") or []
                if isinstance(n, dict) and n.get("text")
            ),
            None,
        ),
    )
