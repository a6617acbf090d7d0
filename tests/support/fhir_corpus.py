"""Every kind of FHIR resource the hub emits or serves, built by its own code from realistic
inputs (the agency examples, the demo roster, the Task status machine), for conformance tests.

Nothing here is a hand-written copy of a resource: each comes from the function the service
calls on that path, so a change to a mapper changes what the tests check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hub_cli.subject_access import assemble
from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.fhir.search import Cursor, Page, SearchQuery, searchset
from hub_common.fhir.task_outputs import Outcomes, SupportKind, SupportOffered
from hub_common.fhir.wellbeing import INSTRUMENTS, Instrument, Timepoint, WellbeingMeasure
from hub_common.jsonio import dumps, loads
from hub_common.privacy.subject_access import part_bundle
from hub_intake.adapters.bars_acknowledgement import acknowledgement
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats import bars, registered_formats
from hub_intake.service_layer.intake_events import rejection_event
from hub_notifier.adapters.capability import capability_statement
from hub_notifier.adapters.fhir_records import (
    audit_event,
    delivery_communication,
    person_record_patient,
)
from hub_notifier.adapters.fhir_subscription import subscription_resource
from hub_notifier.adapters.rejection_task import rejection_task
from hub_notifier.adapters.requester import rejection_requester
from hub_notifier.domain.coalescing import coalesce_notifications
from hub_notifier.domain.message_back import (
    Moment,
    document_id,
    message_back,
    message_back_parameter,
    version_of_moment,
)
from hub_notifier.domain.message_back_document import message_back_document
from hub_notifier.domain.notification import (
    Event,
    NotificationType,
    StatusReport,
    notification_bundle,
    status_bundle,
)
from hub_notifier.entrypoints.fhir_http import history_bundle
from hub_router.adapters.anonymised import anonymised_facts, anonymised_task
from hub_router.adapters.fhir_care_plan import to_care_plan
from hub_router.adapters.fhir_onward import (
    ConsentToShare,
    PersonToShare,
    onward_service_request,
    onward_task,
)
from hub_router.adapters.fhir_task import with_routing_inputs
from hub_router.adapters.practitioner_role import to_practitioner_role
from hub_router.adapters.service_request import read_service_request
from hub_router.adapters.task_repository import StoredTask, route_to_json, snapshot_of
from hub_router.domain.care_plan import Action, ActionBy, CarePlan, Goal
from hub_router.domain.model import LinkWorker
from hub_router.domain.offers import ReferralTask
from hub_router.domain.onward import AnswerDeadline, OnwardReferral, with_onward_support
from hub_router.domain.task_status import OPEN, BusinessStatus, TaskStatus
from hub_router.service_layer.referral_changes import ReferralChanges
from tests.support.fixtures import FIXTURES, inbound

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
BASE_URL = "https://hub.example.org"
EXAMPLES = {
    "community": "community-referral.json",
    "police": "police-vulnerability-referral.json",
    "fire": "fire-safe-and-well.json",
    "housing": "housing-tenancy-referrals.csv",
    "fhir": "gp-servicerequest-bundle.json",
}
WORKER = "lw-croydon-01"
# Delivery ids are uuid4s in the notifier: fixed ones here, so failures are reproducible.
DELIVERY_IDS = [f"6f1d7c52-93a4-4c1e-9d3b-2f0c8e5a7b1{n}" for n in range(5)]

Labelled = tuple[str, dict[str, Any]]


def service_requests() -> Iterator[Labelled]:
    """`referrals.requested`: one per accepted referral of every agency example, plus the
    variants a mapper branches on (no given names, no optional contact details)."""
    for source, name in sorted(EXAMPLES.items()):
        readings = registered_formats()[source].read(inbound(name), AT)
        accepted = [r.referral for r in readings if r.accepted and r.referral]
        for number, referral in enumerate(accepted):
            yield (
                f"ServiceRequest/{source}-{number}",
                to_service_request(referral, f"ref-{source}-{number}", f"episode-{source}"),
            )
    [reading] = registered_formats()["community"].read(inbound(EXAMPLES["community"]), AT)
    assert reading.referral is not None
    sparse = replace(
        reading.referral,
        person=replace(reading.referral.person, given_names=(), language=None, phone=None),
        notes=(),
    )
    yield "ServiceRequest/sparse", to_service_request(sparse, "ref-sparse", "episode-sparse")


def _stored(request: dict[str, Any]) -> StoredTask:
    facts = read_service_request(request)
    return StoredTask(
        task=ReferralTask(facts.route.referral_id),
        episode_id=facts.route.episode_id,
        facts={
            "requester": facts.requester,
            "referrerIdentifier": facts.referrer_identifier,
            "authoredOn": facts.authored_on,
            "route": route_to_json(facts.route),
        },
    )


def task_lifecycle() -> Iterator[tuple[str, StoredTask]]:
    """A referral's Task through the status machine, as the router's domain moves it."""
    request = dict(service_requests())["ServiceRequest/police-0"]
    stored = _stored(request)
    steps: list[tuple[str, ReferralTask]] = []
    task = stored.task.wait_for_coordinator()
    steps.append(("awaiting-allocation", task))
    task = task.offer(WORKER, AT + timedelta(days=2))
    steps.append(("offered", task))
    task = task.accept(WORKER)
    steps.append(("accepted", task))
    task = task.change_status(
        WORKER, TaskStatus.ON_HOLD, BusinessStatus.CONTACT_ATTEMPTED, "person away", None
    )
    steps.append(("on-hold", task))
    task = task.change_status(
        WORKER, TaskStatus.IN_PROGRESS, BusinessStatus.FIRST_CONTACT_MADE, None, None
    )
    steps.append(("in-progress", task))
    done = task.change_status(
        WORKER,
        TaskStatus.COMPLETED,
        BusinessStatus.CONNECTED_TO_SERVICES,
        None,
        Outcomes(
            "Joined two groups",
            (
                WellbeingMeasure(
                    Instrument.ONS4,
                    Timepoint.FIRST_CONTACT,
                    AT,
                    (("satisfied", 4), ("worthwhile", 5), ("happy", 3), ("anxious", 7)),
                ),
                WellbeingMeasure(
                    Instrument.SWEMWBS,
                    Timepoint.CLOSURE,
                    AT + timedelta(days=40),
                    tuple((code, 3) for code in INSTRUMENTS[Instrument.SWEMWBS].codes),
                ),
            ),
            (
                SupportOffered(
                    NeedCategory.LONELINESS_ISOLATION,
                    SupportKind.ATTENDED,
                    "Croydon walking group",
                    "svc-walking",
                ),
                SupportOffered(
                    NeedCategory.MONEY_DEBT_BENEFITS, SupportKind.REFERRED, "Money advice clinic"
                ),
            ),
        ),
    )
    steps.append(("completed", done))
    declined = task.change_status(
        WORKER, TaskStatus.FAILED, BusinessStatus.DECLINED_BY_PERSON, "did not want it", None
    )
    steps.append(("failed-declined", declined))
    for label, state in steps:
        yield label, replace(stored, task=state)


def tasks() -> Iterator[Labelled]:
    """`referrals.tasks` snapshots, and the same Tasks as link workers read them (inputs)."""
    for label, stored in task_lifecycle():
        snapshot = snapshot_of(stored, AT)
        yield f"Task/{label}", snapshot
        yield f"Task/{label}+inputs", with_routing_inputs(snapshot, stored.facts["route"])
        if stored.task.status not in OPEN:
            # Past its retention period the router keeps the Task anonymised for the figures.
            rid = stored.task.referral_id
            yield (
                f"Task/{label}+anonymised",
                with_routing_inputs(
                    anonymised_task(snapshot, rid),
                    anonymised_facts(stored.facts, rid)["route"],
                ),
            )


def demo_practitioner_roles() -> Iterator[Labelled]:
    """`linkworkers.directory`: the demo roster as `referral-hub workers load` publishes it,
    and a worker with as little as a roster row may give."""
    from hub_router.adapters.roster_file import read_roster

    for entry in read_roster(REPO / "deploy" / "demo" / "linkworkers.csv"):
        role = to_practitioner_role(entry.worker, entry.name, entry.email)
        yield f"PractitionerRole/{entry.worker.worker_id}", role
    bare = LinkWorker(
        "lw-bare",
        boroughs=frozenset(),
        postcode_districts=frozenset(),
        needs=frozenset(),
        languages=frozenset(),
        working_days=frozenset(),
    )
    yield "PractitionerRole/bare", to_practitioner_role(bare, "Bare Worker", None)


def rejections() -> Iterator[Labelled]:
    """`referrals.rejected` outcomes and the rejected Tasks the notifier shows for them."""
    body = loads(inbound(EXAMPLES["community"]))
    body["consent"] = False
    del body["referrer"]["email"]
    [refusal] = registered_formats()["community"].read(dumps(body), AT)
    event = rejection_event("community", AT, refusal, "5b1c0e7a-8d44-4d0e-b3f5-0a9c2c7e1f11")
    yield "OperationOutcome/rejected", event["outcome"]
    yield "Task/rejected", rejection_task(event, rejection_requester(event))
    yield "OperationOutcome/empty", operation_outcome([])
    yield (
        "OperationOutcome/warning",
        operation_outcome([Issue("nhsNumber", "the NHS number fails its check", "warning")]),
    )


def notifications() -> Iterator[Labelled]:
    """Subscription notifications (Backport id-only), the `$status` answer, a Subscription."""
    url = f"{BASE_URL}/fhir/Subscription/sub-1"
    handshake = StatusReport(url, "active", NotificationType.HANDSHAKE, 0)
    yield (
        "Bundle/handshake",
        notification_bundle(handshake, bundle_id=DELIVERY_IDS[0], base_url=BASE_URL, timestamp=AT),
    )
    ended = message_back("completed", "first-contact-made", first_contact=True)
    assert ended is not None
    bundles = [
        notification_bundle(
            StatusReport(
                url,
                "active",
                NotificationType.EVENT_NOTIFICATION,
                number,
                events=(Event(number, AT, "Task/ref-police-0"),),
                extra=(message_back_parameter(ended, number),) if number == 2 else (),
            ),
            bundle_id=DELIVERY_IDS[number],
            base_url=BASE_URL,
            timestamp=AT,
        )
        for number in (1, 2)
    ]
    yield "Bundle/event-notification", bundles[1]
    yield "Bundle/coalesced", coalesce_notifications(bundles, DELIVERY_IDS[3])
    report = StatusReport(url, "active", NotificationType.QUERY_STATUS, 2, errors=("HTTP 503",))
    yield "Bundle/status", status_bundle(report, timestamp=AT)
    row = SimpleNamespace(
        subscription_id="sub-1",
        status="active",
        reason="Tell us about our referrals",
        channel="rest-hook",
        endpoint="https://agency.example/hook",
        headers=["Authorization: Bearer abc"],
        filter_criteria="Task?requester=https://fhir.nhs.uk/Id/ods-organization-code|H85001",
        heartbeat_seconds=300,
    )
    yield "Subscription/created", subscription_resource(row, secret="s3cret")
    heartbeat = StatusReport(url, "active", NotificationType.HEARTBEAT, 2)
    yield (
        "Bundle/heartbeat",
        notification_bundle(heartbeat, bundle_id=DELIVERY_IDS[4], base_url=BASE_URL, timestamp=AT),
    )


def served_bundles() -> Iterator[Labelled]:
    """The read APIs' Bundles: notifier search and history, router search (also empty)."""
    history = [snapshot_of(stored, AT) for _, stored in task_lifecycle()]
    requests = dict(service_requests())
    latest = [
        snapshot_of(_stored(requests[label]), AT)
        for label in ("ServiceRequest/community-0", "ServiceRequest/fire-0")
    ]
    search = SearchQuery(filters={"status": ["requested"]}, count=2, sort_given=True)
    middle = Page(latest, Cursor(True, AT, "b"), Cursor(False, AT, "a"))
    yield "Bundle/notifier-search", searchset(latest, 7, BASE_URL, "/fhir/Task", search, middle)
    yield "Bundle/notifier-search-empty", searchset([], 0, BASE_URL, "/fhir/Task", search)
    yield "Bundle/notifier-history", history_bundle("ref-police-0", history[::-1], BASE_URL)
    elements = replace(search, elements=("status", "focus"))
    yield "Bundle/router-search", searchset(latest, 2, BASE_URL, "/fhir/Task", elements)
    counted = replace(search, summary_count=True)
    yield "Bundle/router-search-count", searchset(latest, 2, BASE_URL, "/fhir/Task", counted)


def message_back_documents() -> Iterator[Labelled]:
    """The message back to a GP practice as a document Bundle, at each moment, from a GP
    referral's Task timeline (the lifecycle above; declined is its own branch)."""
    from hub_notifier.adapters.task_facts import outcomes_of

    request = dict(service_requests())["ServiceRequest/fhir-0"]
    timeline = {label: snapshot_of(stored, AT) for label, stored in task_lifecycle()}
    accepted_path = [timeline[k] for k in ("offered", "accepted", "in-progress", "completed")]
    declined_path = [timeline[k] for k in ("offered", "accepted", "failed-declined")]
    for moment, versions in (
        (Moment.ACCEPTED, accepted_path),
        (Moment.CLOSED, accepted_path),
        (Moment.DECLINED, declined_path),
    ):
        found = version_of_moment(versions, moment)
        assert found is not None, moment
        task, first_contact = found
        status = task["status"]
        step = task["businessStatus"]["coding"][0]["code"]
        outcomes = outcomes_of(task) if moment is Moment.CLOSED else None
        message = message_back(status, step, first_contact=first_contact, outcomes=outcomes)
        assert message is not None and message.moment is moment
        name = document_id(str(request["id"]), moment)
        yield f"Bundle/message-back-{moment}", message_back_document(request, task, message, name)


def capability() -> Iterator[Labelled]:
    from hub_router.adapters.capability import capability_statement as router_capability

    yield "CapabilityStatement/notifier", capability_statement(BASE_URL, "1.0.0")
    yield "CapabilityStatement/router", router_capability(BASE_URL, "1.0.0")


def directory_searches() -> Iterator[Labelled]:
    """`GET /fhir/HealthcareService` as the router answers it: demo services with every kind
    of capacity, a usual response, reasons and distances; and an empty search."""
    from hub_cli.directory.oruk import read_service
    from hub_common.region.directory import DirectoryService, to_bundle
    from hub_router.adapters.fhir_directory import searchset as directory_searchset
    from hub_router.domain.directory_search import (
        Answer,
        Candidate,
        Capacity,
        CapacityKind,
        usual_response,
    )

    records = loads((REPO / "deploy" / "demo" / "swl-services.oruk.json").read_bytes())[:4]
    capacities = [
        Capacity(CapacityKind.PLACES, 3, AT),
        Capacity(CapacityKind.PLACES, 0, AT),
        Capacity(CapacityKind.WAITING_LIST, None, AT),
        Capacity(),
    ]
    results = []
    for record, capacity in zip(records, capacities, strict=True):
        service = read_service(record, "demo")
        assert isinstance(service, DirectoryService)
        bundle = to_bundle(service)
        candidate = Candidate(
            id=bundle["id"],
            needs=frozenset(n.value for n in service.needs),
            terms=frozenset(),
            days=frozenset(),
            free=service.free,
            minimum_age=service.minimum_age,
            maximum_age=service.maximum_age,
            capacity=capacity,
            distance_km=1.234,
            text_rank=0.3,
        )
        results.append((candidate, bundle, ["Open on Saturday", "1.2 km from the centre of CR7"]))
    usual = {results[0][0].id: usual_response([(2.0, Answer.ACCEPTED), (5.0, Answer.DECLINED)])}
    self_url = f"{BASE_URL}/fhir/HealthcareService?near=CR7"
    yield "Bundle/directory-search", directory_searchset(results, usual, BASE_URL, self_url)
    yield "Bundle/directory-search-empty", directory_searchset([], {}, BASE_URL, self_url)


def input_fixtures() -> Iterator[Labelled]:
    """Inbound fixtures that are meant to be valid FHIR (the GP practice's Bundle)."""
    yield "Bundle/gp-input", loads((FIXTURES / "inbound" / EXAMPLES["fhir"]).read_bytes())


def bars_messages() -> Iterator[Labelled]:
    """BaRS: the example referral message (an input meant to be valid FHIR), the hub's
    acknowledgements of it (ok, and fatal-error with its OperationOutcome), a referral's
    later ServiceRequest versions (amended, cancelled) and the Tasks they lead to."""
    message = loads(inbound("bars-referral-message.json"))
    yield "Bundle/bars-referral-input", message
    header = bars.header_of(message)
    yield "Bundle/bars-ack-ok", acknowledgement(header, "ok", operation_outcome([]), AT)
    refused = operation_outcome(
        [Issue("MessageHeader.definition", "this hub enforces another", code="not-supported")]
    )
    yield "Bundle/bars-ack-error", acknowledgement(header, "fatal-error", refused, AT)
    request = dict(service_requests())["ServiceRequest/fhir-0"]
    amended = {**request, "meta": {"versionId": "2"}}
    cancelled = {**request, "status": "revoked", "meta": {"versionId": "3"}}
    yield "ServiceRequest/bars-amended", amended
    yield "ServiceRequest/bars-cancelled", cancelled
    offered = _stored(request)
    offered = replace(offered, task=offered.task.offer(WORKER, AT + timedelta(days=2)))
    changes = ReferralChanges._changed
    after_amend, _ = changes(offered, amended, 2)
    later = AT + timedelta(days=1)  # after the GP's authoredOn (Task inv-1)
    yield "Task/bars-amended", snapshot_of(after_amend, later)
    after_cancel, _ = changes(after_amend, cancelled, 3)
    yield "Task/bars-cancelled", snapshot_of(after_cancel, later)


def care_plans() -> Iterator[Labelled]:
    """The personalised care and support plan: a full one, and one of only what matters."""
    full = CarePlan(
        referral_id="ref-police-0",
        what_matters="Getting out of the flat and seeing people again",
        goals=(
            Goal("Go to a lunch club weekly", NeedCategory.LONELINESS_ISOLATION, date(2027, 1, 31)),
            Goal("Sort out the gas bill", NeedCategory.MONEY_DEBT_BENEFITS, achieved=True),
        ),
        actions=(
            Action("Phone the lunch club", ActionBy.PERSON, date(2026, 12, 10)),
            Action("Refer to welfare benefits advice", ActionBy.LINK_WORKER, done=True),
        ),
        version=2,
        recorded_at=AT,
        recorded_by="lw-cr-01",
    )
    yield "CarePlan/full", to_care_plan(full, "episode-1", "lw-cr-01")
    yield "CarePlan/what-matters-only", to_care_plan(CarePlan("ref-1", "My garden"), "e-1", None)


def onward_referrals() -> Iterator[Labelled]:
    """An onward referral's ServiceRequest (the person as shared), and its Task through every
    step, with the link worker's Task it connects (connected to N services)."""
    deadline = AnswerDeadline(10)
    sent = OnwardReferral(
        onward_id="onward-1b2c",
        referral_id="ref-1",
        service_id="svc-42",
        service_name="Thornton Heath lunch club",
        organisation_id="org-7",
        organisation_name="Thornton Heath Community Trust",
        organisation_email="hello@example.org",
        need=NeedCategory.LONELINESS_ISOLATION,
        sent_by="lw-cr-01",
        sent_at=AT,
        due_at=deadline.due(AT),
        nudge_at=deadline.nudge(AT),
    )
    person = PersonToShare("Ada Example", "020 7946 0000", "ada@example.org")
    consent = ConsentToShare(AT, "verbal")
    yield "ServiceRequest/onward", onward_service_request(sent, person, consent, "Prefers mornings")
    yield (
        "ServiceRequest/onward-phone-only",
        onward_service_request(sent, PersonToShare("Bo", "07700 900000"), consent, None),
    )
    states = {
        "sent": sent,
        "accepted": sent.accept(),
        "attended": sent.accept().start().attended(),
        "did-not-attend": sent.accept().did_not_attend(None),
        "declined": sent.decline("No places until March"),
        "no-response": sent.expire(sent.due_at),
    }
    for label, state in states.items():
        yield f"Task/onward-{label}", onward_task(state, "episode-1", AT)
    parent = ReferralTask("ref-1", TaskStatus.ACCEPTED, BusinessStatus.ALLOCATED, "lw-cr-01", 2)
    connected = with_onward_support(parent, states["accepted"])
    assert connected is not None
    stored = next(stored for _, stored in task_lifecycle())
    yield "Task/connected-onward", snapshot_of(replace(stored, task=connected), AT)


def subject_access_export() -> Iterator[Labelled]:
    """A subject access export: each service's part (hub_common/privacy/subject_access.py) assembled
    as the CLI does, with the notifier's own records (person record, delivery, audit entry)."""
    request = next(resource for _, resource in service_requests())
    referral_id = request["id"]
    patient = person_record_patient(
        SimpleNamespace(
            referral_id=referral_id,
            nhs_number="9434765919",
            family="baptiste",
            given=["jean", "luc"],
            birth_date=date(1968, 2, 29),
            postcode="CR01JA",
            phone="07700900321",
        )
    )
    delivered = delivery_communication(
        SimpleNamespace(
            delivery_id=DELIVERY_IDS[0],
            status="delivered",
            kind="event-notification",
            channel="rest-hook",
            referral_id=referral_id,
            target=None,
            subscription_id="3c0a3f0e-5d7e-4c59-9d0a-1f6b2b9c8e11",
            body=b'{"resourceType": "Bundle"}',
            delivered_at=AT,
            last_error=None,
        )
    )
    dead_email = delivery_communication(
        SimpleNamespace(
            delivery_id=DELIVERY_IDS[1],
            status="dead",
            kind="email",
            channel="email",
            referral_id=referral_id,
            target="referrals@example.org",
            subscription_id=None,
            body=b"Subject: referral update",
            delivered_at=None,
            last_error="cannot connect",
        )
    )
    audited = [
        audit_event(
            SimpleNamespace(
                event_id=f"0d6c2b9e-1f4a-4c8e-9b7d-5a3e2f1c0b9{n}",
                at=AT + timedelta(minutes=n),
                service=service,
                actor_role=role,
                actor_subject=subject,
                actor_organisation=organisation,
                action=action,
                resource_type=kind,
                resource_ids=[referral_id, *extra],
                method=method,
                route=route,
                peer="10.0.0.7" if n else None,
                outcome=outcome,
            ),
            {referral_id},
        )
        for n, (service, role, subject, organisation, action, kind, extra, method, route, outcome)
        in enumerate([
            ("intake", "agency", "gp", "https://fhir.nhs.uk/Id/ods-organization-code|H85001",
             "create", "ServiceRequest", [], "POST", "/fhir/ServiceRequest", "accepted"),
            ("notifier", "link_worker", WORKER, None, "read", "ServiceRequest", [], "GET",
             "/fhir/ServiceRequest/{referral_id}", "200"),
            ("router", "link_worker", WORKER, None, "update", "Task", ["onward-1b2c"], "POST",
             "/fhir/Task/{task_id}/$refer-onward", "ok"),
            ("router", "operator", "ops", None, "export", "SubjectAccess", [], "GET",
             "/operator/subject-access", "200"),
        ])
    ]  # fmt: skip
    yield "Patient/person-record", patient
    yield "Communication/delivered", delivered
    yield "Communication/dead-email", dead_email
    yield "AuditEvent/onward-referral", audited[2]
    task = next(resource for _, resource in tasks())
    plan = next(resource for _, resource in care_plans())
    onward = [
        r
        for label, r in onward_referrals()
        if label in ("ServiceRequest/onward", "Task/onward-accepted")
    ]
    parts = [
        part_bundle("intake", [request])["entry"],
        part_bundle("router", [task, plan, *onward])["entry"],
        part_bundle("notifier", [request, task, patient, delivered, dead_email, *audited])["entry"],
    ]
    yield "Bundle/subject-access", assemble(parts, AT)
    yield "Bundle/subject-access-nothing-found", assemble([], AT)


@cache
def corpus() -> dict[str, dict[str, Any]]:
    """Every resource above, by label."""
    found: dict[str, dict[str, Any]] = {}
    for part in (
        service_requests,
        tasks,
        demo_practitioner_roles,
        rejections,
        notifications,
        served_bundles,
        capability,
        directory_searches,
        input_fixtures,
        care_plans,
        bars_messages,
        message_back_documents,
        onward_referrals,
        subject_access_export,
    ):
        for label, resource in part():
            assert label not in found, f"two resources labelled {label}"
            found[label] = loads(dumps(resource))  # exactly what goes on the wire
    return found
