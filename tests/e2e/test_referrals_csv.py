"""The referrals CSV against the running hub: referrals sent through intake with patient names
that are spreadsheet formulas come out escaped, and each caller gets only their own rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator

import httpx
import pytest

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.security.auth import Principal, issue_token
from hub_notifier.adapters.referral_rows import COLUMNS
from hub_notifier.domain.csv_cells import FORMULA_STARTS
from tests.support.credentials import agency_token, bearer
from tests.support.processes import ServiceProcess, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import example

pytestmark = pytest.mark.infra

OTHER_AGENCY = f"{AGENCY_ID_SYSTEM}|community:sutton-carers-centre"
FORMULA_NAMES = {
    "EQ": '=HYPERLINK("http://evil.example","click")',
    "PLUS": "+SUM(1,2)",
    "MINUS": "-2+3+cmd|' /C calc'!A0",
    "AT": "@SUM(A1:A2)",
    "TAB": "\t=1+1",
}


@pytest.fixture(scope="module")
def hub(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("csv")) as running:
        yield running


def referral_named(given_name: str, tag: str) -> bytes:
    body = json.loads(example("community", tag))
    body["person"]["given_name"] = given_name
    return json.dumps(body).encode()


async def send(client: httpx.AsyncClient, url: str, token: str, body: bytes) -> str:
    answer = await client.post(
        f"{url}/referrals/community",
        content=body,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    [result] = answer.json()["results"]
    assert result["status"] == "accepted", result
    return str(result["referral_id"])


def rows_of(answer: httpx.Response) -> dict[str, dict[str, str]]:
    assert answer.status_code == 200, answer.text
    records = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert tuple(records[0]) == COLUMNS
    return {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in records[1:]}


async def report(
    client: httpx.AsyncClient, url: str, token: str, wanted: set[str]
) -> dict[str, dict[str, str]]:
    """The caller's CSV once the notifier has recorded every referral in `wanted`."""
    for _ in range(120):
        rows = rows_of(await client.get(f"{url}/reports/referrals.csv", headers=bearer(token)))
        if wanted <= rows.keys():
            return rows
        await asyncio.sleep(0.5)
    raise AssertionError(f"the report never held all of {sorted(wanted)}")


async def test_formula_names_are_escaped_and_each_agency_sees_only_its_own(
    stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    cva = agency_token(stack)
    other = agency_token(stack, organisation=OTHER_AGENCY)
    intake, notifier = hub["intake"].url, hub["notifier"].url
    async with httpx.AsyncClient(timeout=30) as client:
        ids = {
            kind: await send(client, intake, cva, referral_named(name, f"-CSV-{kind}"))
            for kind, name in FORMULA_NAMES.items()
        }
        theirs = await send(client, intake, other, example("community", "-CSV-OTHER"))

        mine = await report(client, notifier, cva, set(ids.values()))
        for kind, referral_id in ids.items():
            name = mine[referral_id]["patient_name"]
            assert name.startswith("'"), (kind, name)
            assert FORMULA_NAMES[kind].strip() in name, (kind, name)
        for row in mine.values():
            for cell in row.values():
                assert not cell.startswith(FORMULA_STARTS), row
        assert theirs not in mine

        their_rows = await report(client, notifier, other, {theirs})
        assert their_rows.keys() == {theirs}
        assert their_rows[theirs]["source"] == "community"

        croydon = issue_token(
            stack.auth_secret, Principal("coordinator", "co", boroughs=("Croydon",))
        )
        assert (
            set(ids.values()) | {theirs} <= (await report(client, notifier, croydon, set())).keys()
        )

        answer = await client.get(f"{notifier}/reports/referrals.csv", headers=bearer(cva))
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == 'attachment; filename="referrals.csv"'


async def test_the_report_needs_credentials_and_a_reading_role(
    stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    url = f"{hub['notifier'].url}/reports/referrals.csv"
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer("not-a-token"))).status_code == 401
        for role in ("operator", "link_worker"):
            token = issue_token(stack.auth_secret, Principal(role, "someone"))  # type: ignore[arg-type]
            assert (await client.get(url, headers=bearer(token))).status_code == 403
