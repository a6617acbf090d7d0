"""The directory import's pure parts: ORUK records to the hub's shape to FHIR and back, the
checks that refuse a record (each naming its field), both paging styles, and the plan."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub_cli.directory.feed import FeedError, read_file, read_page
from hub_cli.directory.importer import plan_import
from hub_cli.directory.oruk import RecordRefused, Withdrawal, read_service
from hub_common.fhir.needs import NEED_CATEGORY_SYSTEM, NeedCategory
from hub_common.region.directory import (
    DirectoryService,
    NotADirectoryEntry,
    Term,
    needs_for_terms,
    read_bundle,
    to_bundle,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "directory"


def record(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def service(name: str, feed: str = "feed-a") -> DirectoryService:
    read = read_service(record(name), feed)
    assert isinstance(read, DirectoryService)
    return read


def test_an_hsds3_record_keeps_every_part_the_directory_needs() -> None:
    wandle = service("hsds3-service.json")
    assert wandle.organisation.name == "Wandle Age Concern"
    [hall] = wandle.places
    assert (hall.postcode, hall.latitude, hall.longitude) == ("SW17 9NH", 51.4275, -0.168)
    [opening] = wandle.openings
    assert (opening.days, opening.opens, opening.closes) == (("thu",), "12:00:00", "14:30:00")
    assert (wandle.minimum_age, wandle.maximum_age) == (60, None)
    assert wandle.eligibility == ("People aged 60 and over living alone in Wandsworth",)
    assert [c.amount for c in wandle.costs] == [3.0] and not wandle.free
    assert ("phone", "020 8870 5678") in {(c.system, c.value) for c in wandle.contacts}
    assert Term("https://example.org/taxonomy/service-types", "befriending", "Befriending") in (
        wandle.terms
    )
    assert wandle.needs == {NeedCategory.LONELINESS_ISOLATION}
    assert wandle.last_modified == datetime(2026, 10, 1, 9, tzinfo=UTC)


def test_an_oruk1_record_reads_the_older_field_names() -> None:
    advice = service("oruk1-service.json")
    assert advice.organisation.url == "https://sutton-advice.example.org"
    assert advice.places[0].latitude == pytest.approx(51.3618)
    assert advice.places[0].postcode == "SM1 1EA"
    # The weekly Tuesday becomes an opening; the monthly evening keeps its words as a note.
    assert [(o.days, o.opens) for o in advice.openings] == [(("tue",), "09:30:00")]
    assert advice.schedule_notes == ("Evening session on the second Wednesday of each month.",)
    assert (advice.minimum_age, advice.eligibility) == (18, ("Adults",))
    assert advice.free
    # A term coded in the hub's own need system counts as given, the other by its words.
    assert advice.needs == {NeedCategory.MONEY_DEBT_BENEFITS}
    assert Term(NEED_CATEGORY_SYSTEM, "money-debt-benefits", "Money, debt or benefits") in (
        advice.terms
    )


@pytest.mark.parametrize("name", ["hsds3-service.json", "oruk1-service.json"])
def test_the_fhir_bundle_reads_back_to_the_same_service(name: str) -> None:
    original = service(name)
    bundle = json.loads(json.dumps(to_bundle(original)))  # as it travels
    assert bundle["type"] == "collection"
    assert bundle["entry"][0]["resource"]["resourceType"] == "HealthcareService"
    assert [e["resource"]["resourceType"] for e in bundle["entry"][1:]] == [
        "Organization",
        "Location",
    ]
    assert read_bundle(bundle) == original


def test_the_healthcare_service_says_what_search_will_need() -> None:
    bundle = to_bundle(service("oruk1-service.json"))
    healthcare = bundle["entry"][0]["resource"]
    [location] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Location"
    ]
    assert healthcare["category"][0]["coding"][0]["code"] == "money-debt-benefits"
    assert healthcare["characteristic"][0]["coding"][0]["code"] == "free"
    assert healthcare["availableTime"] == [
        {"daysOfWeek": ["tue"], "availableStartTime": "09:30:00", "availableEndTime": "12:30:00"}
    ]
    assert location["address"]["district"] == "Sutton"  # the borough, from the district table
    assert location["position"] == {"latitude": 51.3618, "longitude": -0.1945}


def test_nothing_empty_reaches_the_fhir() -> None:
    def walk(value: Any, path: str) -> None:
        assert value not in ("", [], {}, None), f"{path} is empty"
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}")
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{path}[{index}]")

    bare = {
        "id": "s1",
        "name": "Bare",
        "status": "active",
        "organization": {"id": "o", "name": "O"},
    }
    minimal = read_service(bare, "feed-a")
    assert isinstance(minimal, DirectoryService)
    walk(to_bundle(minimal), "Bundle")
    walk(to_bundle(service("oruk1-service.json")), "Bundle")


def test_an_id_fhir_cannot_carry_gets_a_stable_resource_id() -> None:
    odd = dict(record("hsds3-service.json"), id="service #42/Wandsworth")
    first = read_service(odd, "f")
    assert isinstance(first, DirectoryService)
    resource = to_bundle(first)["entry"][0]["resource"]
    assert resource["id"] != "service #42/Wandsworth"
    assert resource["id"] == to_bundle(first)["entry"][0]["resource"]["id"]
    assert resource["identifier"][0]["value"] == "service #42/Wandsworth"
    assert read_bundle(to_bundle(first)).id == "service #42/Wandsworth"


def broken(changes: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(record("hsds3-service.json"))
    for path, value in changes.items():
        target: Any = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return body


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": ...}, "id: required"),
        ({"name": "  "}, "name: required"),
        ({"status": "paused"}, "status: 'paused' is not one of"),
        ({"organization": ...}, "organization: required"),
        ({"organization.name": ...}, "organization.name: required"),
        (
            {"service_at_locations.0.location.latitude": "north"},
            "service_at_locations[0].location.latitude: expected a number, got 'north'",
        ),
        (
            {"service_at_locations.0.location.longitude": 200},
            "service_at_locations[0].location.longitude: 200 is outside -180 to 180",
        ),
        (
            {"service_at_locations.0.location.longitude": ...},
            "service_at_locations[0].location.latitude: latitude and longitude come together",
        ),
        (
            {"service_at_locations.0.location.addresses.0.postal_code": "SW17"},
            "service_at_locations[0].location.addresses[0].postal_code: 'SW17' is not a UK postcode",
        ),
        ({"minimum_age": -1}, "minimum_age: expected a whole number of years from 0 to 130"),
        ({"maximum_age": 18}, "maximum_age: 18 is below minimum_age 60"),
        ({"schedules.0.byday": "THURSDAY"}, "schedules[0].byday: 'THURSDAY' is not a day"),
        ({"schedules.0.opens_at": "noon"}, "schedules[0].opens_at: expected a time"),
        ({"schedules.0.closes_at": "11:00"}, "schedules[0].closes_at: 11:00:00 is not after"),
        ({"cost_options.0.amount": -3}, "cost_options[0].amount: -3 is negative"),
        ({"cost_options.0.currency": "pounds"}, "cost_options[0].currency: 'pounds' is not"),
        ({"email": "not-an-address"}, "email: not an e-mail address"),
        ({"url": "www.example.org"}, "url: expected an http(s) address"),
        ({"attributes.0.taxonomy_term.name": ...}, "attributes[0].taxonomy_term.name: required"),
        ({"last_modified": "yesterday"}, "last_modified: expected an ISO 8601 date-time"),
        ({"phones": "020 8870 1234"}, "phones: expected a list"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(RecordRefused) as refused:
        read_service(broken(changes), "feed-a")
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


def test_every_problem_of_a_record_is_told_at_once() -> None:
    with pytest.raises(RecordRefused) as refused:
        read_service(broken({"name": ..., "minimum_age": "old", "email": "x"}), "feed-a")
    assert len(refused.value.problems) == 3
    assert refused.value.service_id == "svc-wandle-befriending"


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(RecordRefused, match="record: expected a JSON object, got list"):
        read_service([1, 2], "feed-a")


@pytest.mark.parametrize("status", ["inactive", "defunct", "withdrawn"])
def test_a_stopped_service_is_a_withdrawal(status: str) -> None:
    assert read_service({"id": "s9", "status": status}, "f") == Withdrawal("s9", status)


def test_a_temporarily_closed_service_stays_listed_but_inactive() -> None:
    closed = read_service(broken({"status": "temporarily closed"}), "f")
    assert isinstance(closed, DirectoryService) and closed.temporarily_closed
    healthcare = to_bundle(closed)["entry"][0]["resource"]
    assert healthcare["active"] is False
    assert healthcare["availabilityExceptions"].startswith("Temporarily closed.")
    assert read_bundle(to_bundle(closed)) == closed


def test_needs_come_from_the_words_of_taxonomy_terms() -> None:
    def needs(*names: str) -> set[NeedCategory]:
        return set(needs_for_terms(Term("https://x.example/v", n, n) for n in names))

    assert needs("Food bank") == {NeedCategory.FOOD_INSECURITY}
    assert needs("Carers' support group") >= {NeedCategory.CARER_SUPPORT}
    assert needs("Debt and housing advice") == {
        NeedCategory.MONEY_DEBT_BENEFITS,
        NeedCategory.HOUSING,
    }
    assert needs("Bereavement support") == {NeedCategory.BEREAVEMENT}
    assert needs("Chess") == set()


def test_a_bundle_of_another_shape_is_not_read_as_a_service() -> None:
    with pytest.raises(NotADirectoryEntry, match="Bundle of type collection"):
        read_bundle({"resourceType": "Bundle", "type": "searchset"})
    with pytest.raises(NotADirectoryEntry, match=r"entry\[0\]"):
        read_bundle({"resourceType": "Bundle", "type": "collection", "entry": []})


# Paging ----------------------------------------------------------------------------------


def test_oruk_paging_is_read() -> None:
    page = read_page(
        {"totalElements": 5, "totalPages": 3, "number": 2, "size": 2, "first": False,
         "last": False, "content": [{"id": "a"}, {"id": "b"}]},
        2,
    )  # fmt: skip
    assert (page.number, page.total_pages, page.total_items, page.last) == (2, 3, 5, False)
    assert [r["id"] for r in page.records] == ["a", "b"]


def test_hsds3_paging_is_read() -> None:
    page = read_page(
        {"total_items": 5, "total_pages": 3, "page_number": 3, "size": 1, "first_page": False,
         "last_page": True, "empty": False, "contents": [{"id": "e"}]},
        3,
    )  # fmt: skip
    assert (page.number, page.total_pages, page.total_items, page.last) == (3, 3, 5, True)


def test_a_page_without_the_last_flag_is_last_when_its_number_reaches_the_total() -> None:
    assert read_page({"contents": [], "total_pages": 2, "page_number": 2}, 2).last
    assert not read_page({"content": [{}], "totalPages": 2, "number": 1}, 1).last


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"services": []}, "neither HSDS 3.0 paging"),
        ({"contents": {"id": "a"}}, "not a JSON array"),
        ({"contents": [], "total_pages": "many"}, "'total_pages': expected a whole number"),
        ([], "expected a JSON object"),
    ],
)
def test_a_page_in_neither_style_is_an_error(body: Any, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        read_page(body, 1)


def test_a_file_may_hold_a_list_a_page_or_a_services_object(tmp_path: Path) -> None:
    for body in ([{"id": "a"}], {"contents": [{"id": "a"}]}, {"services": [{"id": "a"}]}):
        path = tmp_path / "feed.json"
        path.write_text(json.dumps(body))
        assert read_file(path) == [{"id": "a"}]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FeedError, match=r"bad\.json: not JSON"):
        read_file(tmp_path / "bad.json")


# The plan ----------------------------------------------------------------------------------


def current_of(*services: DirectoryService) -> dict[str, Any]:
    return {s.id: json.loads(json.dumps(to_bundle(s))) for s in services}


def test_a_plan_adds_changes_withdraws_and_refuses() -> None:
    wandle, advice = record("hsds3-service.json"), record("oruk1-service.json")
    gone = dict(wandle, id="svc-gone", name="Gone")
    current = current_of(service("oruk1-service.json"), *[read_service(gone, "feed-a")])  # type: ignore[arg-type]
    renamed = dict(advice, name="Sutton Money Advice")
    plan = plan_import([wandle, renamed, {"id": "bad", "status": "open"}], current, "feed-a")
    assert plan.added == ["svc-wandle-befriending"]
    assert plan.changed == ["1042"]
    assert plan.withdrawn == ["svc-gone"]  # a full import: missing from the feed
    assert [(r.record, r.service_id) for r in plan.refused] == [(3, "bad")]
    assert [key for key, _ in plan.publications] == ["svc-wandle-befriending", "1042", "svc-gone"]
    assert plan.publications[-1][1] is None


def test_an_unchanged_service_is_not_published_again() -> None:
    current = current_of(service("hsds3-service.json"))
    plan = plan_import([record("hsds3-service.json")], current, "feed-a")
    assert (plan.publications, plan.unchanged) == ([], 1)


def test_an_incremental_plan_withdraws_only_what_the_feed_says_stopped() -> None:
    current = current_of(service("hsds3-service.json"), service("oruk1-service.json"))
    since = datetime(2026, 9, 1, tzinfo=UTC)
    plan = plan_import(
        [{"id": "1042", "status": "defunct"}], current, "feed-a", modified_after=since
    )
    assert plan.withdrawn == ["1042"] and plan.publications == [("1042", None)]


def test_a_refused_record_never_withdraws_the_service_it_names() -> None:
    current = current_of(service("hsds3-service.json"))
    plan = plan_import(
        [broken({"minimum_age": "old"}), record("oruk1-service.json")], current, "feed-a"
    )
    assert plan.withdrawn == [] and plan.added == ["1042"]
    assert (
        plan.refused[0].line().startswith("record 1 (service svc-wandle-befriending): minimum_age")
    )


def test_another_feeds_services_are_neither_withdrawn_nor_taken_over() -> None:
    current = current_of(service("hsds3-service.json", feed="feed-b"))
    plan = plan_import(
        [record("oruk1-service.json"), record("hsds3-service.json")], current, "feed-a"
    )
    assert plan.withdrawn == []
    assert plan.refused[0].problems == (
        "id: svc-wandle-befriending is already in the directory from feed-b",
    )


def test_a_repeated_id_is_refused_the_second_time() -> None:
    plan = plan_import([record("oruk1-service.json")] * 2, {}, "feed-a")
    assert plan.added == ["1042"]
    assert plan.refused[0].problems == ("id: 1042 already appeared as record 1",)


def test_an_empty_full_import_does_not_wipe_the_feed() -> None:
    with pytest.raises(FeedError, match="listed no services"):
        plan_import([], current_of(service("hsds3-service.json")), "feed-a")


# The demo directory ------------------------------------------------------------------------


def test_the_demo_directory_imports_whole_and_covers_every_need_and_borough() -> None:
    from hub_common.region.service_area import borough_of, boroughs

    repo = FIXTURES.parents[2]
    records = read_file(repo / "deploy/demo/swl-services.oruk.json")
    plan = plan_import(records, {}, "swl-services.oruk.json")
    assert len(plan.added) >= 300 and plan.refused == []
    read = [read_service(r, "demo") for r in records]
    demo = [s for s in read if isinstance(s, DirectoryService)]
    assert set().union(*(s.needs for s in demo)) == set(NeedCategory)
    places = [p for s in demo for p in s.places]
    assert {borough_of(p.postcode or "") for p in places} == set(boroughs())
    assert all(
        51.28 < (p.latitude or 0) < 51.52 and -0.45 < (p.longitude or 0) < 0.0 for p in places
    )


def test_the_demo_directory_is_what_its_generator_writes() -> None:
    import importlib.util

    repo = FIXTURES.parents[2]
    spec = importlib.util.spec_from_file_location(
        "make_directory", repo / "deploy/demo/make_directory.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    committed = json.loads((repo / "deploy/demo/swl-services.oruk.json").read_text())
    assert generator.make_directory(len(committed)) == committed


def test_the_topic_is_compacted_created_and_only_the_import_may_write_it() -> None:
    from hub_cli.kafka_acls import service_grants
    from hub_common.messaging.topics import Topics

    topics = Topics("p.")
    assert topics.directory_services == "p.directory.services"
    assert topics.directory_services in topics.all()
    assert topics.is_compacted(topics.directory_services)
    writers = {
        g.principal
        for g in service_grants(topics, "p.")
        if "Write" in g.operations and topics.directory_services in g.names
    }
    assert writers == {"directory-import"}


# Fetching pages (an in-memory HTTP transport) -----------------------------------------------


async def test_fetching_follows_pages_retries_transient_failures_and_asks_for_changes() -> None:
    import httpx

    from hub_cli.directory.feed import fetch_services

    seen: list[dict[str, str]] = []
    failures = iter([503, 429])

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        seen.append(query)
        if query["page"] == "2" and (status := next(failures, None)):
            return httpx.Response(status)
        page = int(query["page"])
        return httpx.Response(
            200,
            json={"total_items": 3, "total_pages": 3, "page_number": page,
                  "contents": [{"id": f"s{page}"}]},
        )  # fmt: skip

    since = datetime(2026, 11, 1, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        records = await fetch_services(
            "https://feed.example/api/", modified_after=since, per_page=1, client=client
        )
    assert records == [{"id": "s1"}, {"id": "s2"}, {"id": "s3"}]
    assert [q["page"] for q in seen] == ["1", "2", "2", "2", "3"]
    assert {q["modified_after"] for q in seen} == {since.isoformat()}
    assert {q["full"] for q in seen} == {"true"}


async def test_a_page_that_keeps_failing_stops_the_import() -> None:
    import httpx

    from hub_cli.directory.feed import fetch_services

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "1":
            return httpx.Response(
                200, json={"content": [{"id": "a"}], "totalPages": 2, "number": 1}
            )
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(FeedError, match="page 2: HTTP 404"):
            await fetch_services("https://feed.example/api", client=client)
