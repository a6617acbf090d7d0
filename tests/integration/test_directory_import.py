"""The directory import on the real broker: from a file and from ORUK / HSDS 3.0 APIs served on
loopback, in both paging styles, with a malformed record, a withdrawn service, and an
incremental import after a full one; the topic is read back to check what it holds."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hub_cli.directory.importer import run_import
from hub_cli.main import main
from hub_common.messaging.directory_topic import read_compacted
from hub_common.messaging.kafka import ensure_topics
from hub_common.messaging.topics import Topics
from hub_common.region.directory import read_bundle
from hub_common.settings import InfraSettings
from tests.support.infra import Infrastructure
from tests.support.kafka_io import read_to_end
from tests.support.stack import drop_topics, run_id

pytestmark = pytest.mark.infra

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "directory"
BEFORE = datetime(2026, 10, 1, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
AFTER = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
async def settings(infra: Infrastructure) -> AsyncIterator[InfraSettings]:
    """Only topics are needed: this module's own namespace on the shared broker."""
    topics = Topics(f"t{run_id()}.")
    await ensure_topics(infra.kafka_bootstrap_servers, topics, partitions=1)
    try:
        yield InfraSettings(
            kafka_bootstrap_servers=infra.kafka_bootstrap_servers, topic_prefix=topics.prefix
        )
    finally:
        await drop_topics(infra.kafka_bootstrap_servers, topics)


def services(count: int, prefix: str) -> list[dict[str, Any]]:
    """`count` distinct, valid HSDS 3.0 services, last modified before SINCE."""
    template = json.loads((FIXTURES / "hsds3-service.json").read_text())
    made = []
    for number in range(1, count + 1):
        record = copy.deepcopy(template)
        record.update(
            id=f"{prefix}-{number}",
            name=f"{template['name']} {number}",
            last_modified=BEFORE.isoformat(),
        )
        made.append(record)
    return made


class FakeDirectoryApi:
    """An ORUK 1 (`/oruk/services`) and HSDS 3.0 (`/hsds/services`) API over one list."""

    def __init__(self, records: list[Any]) -> None:
        self.records = records
        self.requests: list[dict[str, str]] = []

    def _page(self, request: web.Request) -> tuple[list[Any], int, int, int]:
        self.requests.append(dict(request.query))
        chosen = self.records
        if "modified_after" in request.query and request.path.startswith("/hsds"):
            since = datetime.fromisoformat(request.query["modified_after"])
            chosen = [
                r
                for r in chosen
                if datetime.fromisoformat(r.get("last_modified", BEFORE.isoformat())) >= since
            ]
        page, size = int(request.query.get("page", 1)), int(request.query.get("per_page", 10))
        pages = max(1, -(-len(chosen) // size))
        return chosen[(page - 1) * size : page * size], page, pages, len(chosen)

    async def oruk(self, request: web.Request) -> web.Response:
        content, page, pages, total = self._page(request)
        return web.json_response(
            {"totalElements": total, "totalPages": pages, "number": page, "size": len(content),
             "first": page == 1, "last": page >= pages, "content": content}
        )  # fmt: skip

    async def hsds(self, request: web.Request) -> web.Response:
        content, page, pages, total = self._page(request)
        return web.json_response(
            {"total_items": total, "total_pages": pages, "page_number": page,
             "size": len(content), "first_page": page == 1, "last_page": page >= pages,
             "empty": not content, "contents": content}
        )  # fmt: skip


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeDirectoryApi, str]]:
    fake = FakeDirectoryApi([])
    app = web.Application()
    app.router.add_get("/oruk/services", fake.oruk)
    app.router.add_get("/hsds/services", fake.hsds)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def directory(settings: InfraSettings) -> dict[str, Any]:
    return await read_compacted(
        {"bootstrap_servers": settings.kafka_bootstrap_servers},
        settings.topics.directory_services,
    )


@pytest.fixture
def env(settings: InfraSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", settings.topic_prefix)
    yield


async def test_a_file_is_imported_through_the_cli_and_a_bad_record_is_refused(
    settings: InfraSettings, env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = services(3, "file")
    records.insert(1, dict(records[0], id="file-bad", minimum_age="sixty"))
    path = tmp_path / "council.oruk.json"
    path.write_text(json.dumps(records))

    code = await asyncio.to_thread(main, ["directory", "import", str(path), "--quiet"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 added, 0 changed, 0 withdrawn, 0 unchanged, 1 refused" in out
    assert "refused record 2 (service file-bad): minimum_age: expected a number, got 'sixty'" in err
    held = await directory(settings)
    assert {"file-1", "file-2", "file-3"} <= set(held)
    assert "file-bad" not in held
    assert read_bundle(held["file-2"]).name == "Wandle Befriending Circle 2"
    assert read_bundle(held["file-2"]).feed == "council.oruk.json"

    # The same file again changes nothing and publishes nothing.
    await asyncio.to_thread(main, ["directory", "import", str(path), "--quiet"])
    assert "0 added, 0 changed, 0 withdrawn, 3 unchanged, 1 refused" in capsys.readouterr().out


async def test_both_paging_styles_a_withdrawal_and_an_incremental_import(
    settings: InfraSettings, api: tuple[FakeDirectoryApi, str]
) -> None:
    fake, base = api
    fake.records = [*services(5, "api"), {"id": "api-broken", "status": "active", "name": "No org"}]

    # A full import, ORUK 1 paging, two services a page: three pages, the last with the
    # malformed record.
    first = await run_import(
        settings, f"{base}/oruk", feed="council-api", per_page=2, show_progress=False
    )
    assert [q["page"] for q in fake.requests] == ["1", "2", "3"]
    assert sorted(first.added) == [f"api-{n}" for n in range(1, 6)]
    assert [(r.record, r.service_id, r.problems) for r in first.refused] == [
        (6, "api-broken", ("organization: required (the provider that runs the service)",))
    ]

    # The council changes one service, withdraws another, and drops a third from its list.
    fake.records = copy.deepcopy(fake.records)
    fake.records[1].update(name="Wandle Befriending (Tooting)", last_modified=AFTER.isoformat())
    fake.records[2].update(status="inactive", last_modified=AFTER.isoformat())
    del fake.records[3]
    fake.requests.clear()

    # Incremental over HSDS 3.0 paging: only what changed since comes back.
    second = await run_import(
        settings,
        f"{base}/hsds",
        feed="council-api",
        modified_after=SINCE,
        per_page=1,
        show_progress=False,
    )
    assert {q["modified_after"] for q in fake.requests} == {SINCE.isoformat()}
    assert [q["page"] for q in fake.requests] == ["1", "2"]
    assert (second.added, second.changed, second.withdrawn) == ([], ["api-2"], ["api-3"])
    held = await directory(settings)
    assert read_bundle(held["api-2"]).name == "Wandle Befriending (Tooting)"
    assert "api-3" not in held
    assert "api-4" in held  # an incremental import cannot tell missing from unchanged

    # The withdrawal is a tombstone on the topic, keyed by the service id.
    raw = await read_to_end(settings.kafka_bootstrap_servers, settings.topics.directory_services)
    assert (b"api-3", None) in raw

    # A full import over HSDS 3.0 paging now withdraws the service the feed stopped listing.
    third = await run_import(
        settings, f"{base}/hsds", feed="council-api", per_page=4, show_progress=False
    )
    assert (third.added, third.changed, third.withdrawn) == ([], [], ["api-4"])
    assert third.unchanged == 3 and len(third.refused) == 1
    held = await directory(settings)
    assert sorted(k for k in held if k.startswith("api-")) == ["api-1", "api-2", "api-5"]


async def test_a_dry_run_reports_but_publishes_nothing(
    settings: InfraSettings, tmp_path: Path
) -> None:
    path = tmp_path / "dry.json"
    path.write_text(json.dumps({"contents": services(2, "dry")}))
    plan = await run_import(settings, str(path), dry_run=True, show_progress=False)
    assert plan.added == ["dry-1", "dry-2"]
    assert not {"dry-1", "dry-2"} & set(await directory(settings))
