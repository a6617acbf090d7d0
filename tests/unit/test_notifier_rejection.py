"""Rejected referrals as the referrer sees them: a rejected Task naming fields, never values."""

from hub_intake.adapters.fhir_mapping import derived_agency_id
from hub_notifier.adapters.rejection_task import rejection_task
from hub_notifier.adapters.requester import rejection_requester
from hub_notifier.adapters.task_facts import task_facts

AGENCY_SYSTEM = "https://referral-hub.org/fhir/Id/agency"

EVENT = {
    "rejectionId": "rej-1",
    "source": "community",
    "receivedAt": "2026-03-01T10:00:00+00:00",
    "referrerReference": "CVA-2026-000999",
    "item": None,
    "referrerContact": {
        "organisation": "Croydon Voluntary Action",
        "name": "Amina Rahman",
        "email": "amina.rahman@cva.example",
    },
    "original": {"person": {"given_name": "Gloria", "nhs_number": "9434765919"}},
    "outcome": {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "value",
                "diagnostics": "9434765918 fails the Modulus 11 check",
                "expression": ["person.nhs_number"],
            },
            {"severity": "warning", "code": "value", "diagnostics": "w", "expression": ["x"]},
        ],
    },
}


def test_the_organisation_is_the_one_intake_derives_for_an_agency_known_by_name() -> None:
    expected = f"{AGENCY_SYSTEM}|{derived_agency_id('community', 'Croydon Voluntary Action')}"
    assert rejection_requester(EVENT) == expected


def test_an_authenticated_sender_named_in_the_event_wins() -> None:
    assert rejection_requester({**EVENT, "agency": "sys|val"}) == "sys|val"


def test_the_rejected_task_names_fields_and_codes_but_no_values() -> None:
    task = rejection_task(EVENT, rejection_requester(EVENT))
    facts = task_facts(task)
    assert (facts.referral_id, facts.status, facts.version) == ("rej-1", "rejected", 1)
    assert facts.requester_org == rejection_requester(EVENT)
    assert facts.source == "community"
    assert facts.referrer_reference == "CVA-2026-000999"
    assert [o["valueCodeableConcept"]["text"] for o in task["output"]] == ["person.nhs_number"]
    text = str(task)
    for personal in ("9434765918", "9434765919", "Gloria", "Amina", "amina.rahman"):
        assert personal not in text
