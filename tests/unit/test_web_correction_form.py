"""The referrer's correction form (issue 23): a refused JSON referral laid out field by field,
the refused fields marked with the reason in words, sent back as its own format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub_web.bootstrap import build_app
from hub_web.config import WebSettings
from hub_web.domain.correction import corrected, correction_form, formable
from hub_web.domain.tasks import RejectionIssue
from tests.support.web_fakes import CVA, SECRET, FakeHubApi
from tests.unit.test_web_pages import USERS, csrf_of, sign_in
from tests.unit.test_web_users_day import rejection

SENT: dict[str, Any] = {
    "schema": "community-referral/1",
    "form_id": "CVA-R",
    "consent": False,
    "person": {"given_name": "Ama", "family_name": "Mensah", "postcode": "NOT A POSTCODE"},
    "referrer": {"organisation": "CVA", "email": "desk@cva.example"},
    "needs": ["loneliness", "debt"],
    "notes": [],
}


def refused(outcome_issues: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "results": [
            {
                "status": "rejected",
                "referral_id": None,
                "referrer_reference": "CVA-R",
                "outcome": {
                    "issue": [
                        {"severity": "error", "code": code, "expression": [path]}
                        for code, path in outcome_issues
                    ]
                },
            }
        ]
    }


@pytest.fixture
def api() -> FakeHubApi:
    fake = FakeHubApi()
    fake.tasks["rx"] = rejection(
        "rx",
        ("required", "consent"),
        ("value", "person.postcode"),
        ("required", "person.nhs_number"),
        ("required", "person"),
    )
    fake.refused["rx"] = {"rejection": "rx", "source": "community", "original": SENT}
    return fake


@pytest.fixture
async def client(api: FakeHubApi) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings.model_validate({"HUB_AUTH_SECRET": SECRET, "WEB_DEMO_USERS": USERS})
    transport = httpx.ASGITransport(app=build_app(settings, api))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as test_client:
        yield test_client


def field_html(page: str, path: str) -> str:
    """The markup of one field's block, from its label to its path."""
    found = [
        block
        for block in page.split('<div class="field')
        if f'field-path"><code>{path}</code>' in block
    ]
    assert len(found) == 1, f"no field {path} on the page"
    return found[0]


def test_a_refused_document_becomes_fields_with_the_refused_ones_marked() -> None:
    issues = (
        RejectionIssue("required", "consent"),
        RejectionIssue("value", "person.postcode"),
        RejectionIssue("required", "person.nhs_number"),
        RejectionIssue("required", "person"),
    )
    form = correction_form("community", SENT, issues)
    by_path = {field.path: field for field in form.fields}
    assert by_path["person.postcode"].problems == ("Postcode has a value the hub cannot accept.",)
    assert by_path["person.postcode"].value == "NOT A POSTCODE"
    assert by_path["consent"].kind == "yes-no" and by_path["consent"].value == "no"
    # Refused but never sent: an empty input of its own.
    assert by_path["person.nhs_number"].value == "" and by_path["person.nhs_number"].problems
    assert by_path["needs[1]"].label == "Needs 2" and not by_path["needs[1]"].problems
    # The refused first (no scrolling on a phone), each label telling its fields apart.
    assert [f.path for f in form.fields][:3] == ["consent", "person.postcode", "person.nhs_number"]
    assert by_path["person.nhs_number"].label == "Person NHS number"
    assert by_path["referrer.email"].label == "Referrer e-mail address"
    # "person" is an object: its refusal is said above the fields, not as an input over it.
    assert "person" not in by_path
    assert [(p.field, p.problem) for p in form.general] == [("Person", "is missing")]


def test_the_corrections_go_back_into_the_document_at_their_paths_only() -> None:
    form = correction_form("community", SENT, (RejectionIssue("required", "person.nhs_number"),))
    fixed = corrected(
        form,
        SENT,
        {
            "consent": "yes",
            "person.postcode": " CR0 1AA ",
            "person.nhs_number": "9434765919",
            "needs[1]": "",
            "referrer.email": "",
            "not.a.field": "ignored",
        },
    )
    assert fixed["consent"] is True
    assert fixed["person"] == {
        "given_name": "Ama",
        "family_name": "Mensah",
        "postcode": "CR0 1AA",
        "nhs_number": "9434765919",
    }
    assert fixed["needs"] == ["loneliness"]  # an emptied list item is left out
    assert "email" not in fixed["referrer"]  # emptied: not sent, so intake says "missing"
    assert "not" not in fixed and fixed["notes"] == []  # only the form's own paths
    assert SENT["person"]["postcode"] == "NOT A POSTCODE"  # the original is not changed


def test_fhir_csv_and_unreadable_bodies_are_not_forms() -> None:
    assert formable(SENT)
    assert not formable({"resourceType": "Bundle"})
    assert not formable("occupant_name,postcode\nAma,CR0")
    assert not formable({"base64": "AAE="})


async def test_the_referrer_corrects_a_refused_referral_in_a_form(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    await sign_in(client, CVA)
    page = (await client.get("/referrer/resubmit", params={"rejection": "rx"})).text
    assert ("refused-message", "rx", None) in api.calls
    postcode = field_html(page, "person.postcode")
    assert 'aria-invalid="true"' in postcode and 'value="NOT A POSTCODE"' in postcode
    assert "Needs correcting:</strong> Postcode has a value the hub cannot accept." in postcode
    assert 'aria-describedby="f-person-postcode-problem"' in postcode
    assert 'aria-invalid="true"' not in field_html(page, "person.given_name")
    assert 'aria-invalid="true"' in field_html(page, "person.nhs_number")
    assert "<strong>Person</strong> is missing." in page
    api.intake_answer = {
        "results": [{"status": "accepted", "referral_id": "new-1", "referrer_reference": "CVA-R"}]
    }
    answer = await client.post(
        "/referrer/resubmit/form",
        data={
            "csrf": csrf_of(page),
            "rejection": "rx",
            "f.consent": "yes",
            "f.person.postcode": "CR0 1AA",
            "f.person.nhs_number": "9434765919",
        },
    )
    assert answer.status_code == 200
    assert 'href="/referrer/referrals/new-1"' in answer.text
    (source, body) = next((c[1], c[2]) for c in api.calls if c[0] == "submit")
    sent = json.loads(body)
    assert source == "community" and sent["consent"] is True
    assert sent["person"]["postcode"] == "CR0 1AA" and sent["form_id"] == "CVA-R"


async def test_refused_again_the_form_comes_back_with_what_was_typed_and_the_new_reasons(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    page = await sign_in(client, CVA)
    api.intake_answer = refused([("value", "person.family_name")])
    answer = await client.post(
        "/referrer/resubmit/form",
        data={"csrf": page, "rejection": "rx", "f.person.postcode": "CR0 1AA"},
    )
    assert answer.status_code == 422 and "Refused again" in answer.text
    assert 'value="CR0 1AA"' in field_html(answer.text, "person.postcode")
    assert 'aria-invalid="true"' not in field_html(answer.text, "person.postcode")
    assert 'aria-invalid="true"' in field_html(answer.text, "person.family_name")


async def test_a_referral_no_longer_kept_falls_back_to_the_text_box(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    api.refused.clear()
    await sign_in(client, CVA)
    page = (await client.get("/referrer/resubmit", params={"rejection": "rx"})).text
    assert "/referrer/resubmit/form" not in page and '<textarea id="body"' in page
    api.refused["rx"] = {"rejection": "rx", "source": "housing", "original": "a,b\n1,2"}
    page = (await client.get("/referrer/resubmit", params={"rejection": "rx"})).text
    assert "/referrer/resubmit/form" not in page and "a,b\n1,2</textarea>" in page


async def test_only_an_agency_opens_the_correction_form(
    client: httpx.AsyncClient, api: FakeHubApi
) -> None:
    csrf = await sign_in(client, "lw-1")
    answer = await client.post("/referrer/resubmit/form", data={"csrf": csrf, "rejection": "rx"})
    assert answer.status_code == 403
    assert not [call for call in api.calls if call[0] in ("submit", "refused-message")]
