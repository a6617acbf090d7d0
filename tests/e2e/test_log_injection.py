"""Header and log injection against the running hub: CR, LF, ANSI escapes and other control
characters in every spot an attacker controls that may reach a log line or a response header
(path ids, the source name, query values, headers the services read, fields of bodies, Kafka
message keys and headers). Afterwards every line of every service's log must be one JSON
record of that service (no forged lines), with no terminal escape in the line or in any value
it decodes to, and no response header may hold a line break from the input. `-s` prints how
many hostile inputs were tried. (The text format's one-line rule: tests/unit/test_log_lines.py.)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from hub_common.messaging.envelope import EVENT_ID, TRACEPARENT
from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import CVA
from tests.support.kafka_io import publish
from tests.support.processes import ServiceProcess, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import EXAMPLES, example

pytestmark = pytest.mark.infra

FORGED = "2026-01-01 00:00:00,000 intake INFO forged: operator signed in"
HOSTILE = [
    f"x\r\n{FORGED}",
    f"x\n{FORGED}",
    f"x\r{FORGED}",
    "x\r\nX-Injected: 1",
    "x\x1b[2J\x1b[31mred\x1b[0m",
    "x\x1b]0;title\x07",
    f"x\x85{FORGED}",
    f"x\u2028{FORGED}",
    f"x\x0b\x0c{FORGED}",
    "x\x08\x08\x08\x7f",
]
SERVICES = {"intake", "router", "notifier"}
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def genuine(line: str) -> bool:
    """A JSON record written by a service's log handler, none of its values able to move the
    cursor or start a line when printed (`jq -r .message`)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return (
        isinstance(record, dict)
        and record.get("service") in SERVICES
        and record.get("level") in LEVELS
        and bool(TIME.match(str(record.get("time", ""))))
        and not any(
            TERMINAL_CONTROLS.search(value) for value in record.values() if isinstance(value, str)
        )
    )


CALLERS = {
    "agency": Principal("agency", CVA, organisation=CVA, sources=tuple(EXAMPLES)),
    "link_worker": Principal("link_worker", "lw-croydon-01"),
    "coordinator": Principal("coordinator", "co-1", boroughs=("Croydon",)),
    "operator": Principal("operator", "op-1"),
}


@pytest.fixture(scope="module")
def hub(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("injection")) as running:
        yield running


def _requests(value: str) -> list[tuple[str, str, str, str, dict[str, str], bytes | None]]:
    """(service, role, method, path, headers, body) carrying `value` in one spot each."""
    segment = quote(value, safe="")
    query = quote(value, safe="")
    body = json.loads(example("community", "-INJ"))
    body["form_id"] = f"CVA-{value}"
    body["referrer"]["organisation"] = value
    return [
        ("intake", "agency", "POST", f"/referrals/{segment}", {}, b"{}"),
        ("intake", "agency", "POST", "/referrals/community", {}, json.dumps(body).encode()),
        ("notifier", "agency", "GET", f"/fhir/Task/{segment}", {}, None),
        ("notifier", "agency", "GET", f"/fhir/Task/{segment}/_history", {}, None),
        ("notifier", "agency", "GET", f"/fhir/ServiceRequest/{segment}", {}, None),
        ("notifier", "agency", "GET", f"/fhir/Subscription/{segment}/$status", {}, None),
        (
            "notifier",
            "agency",
            "GET",
            f"/fhir/Task?status={query}&focus=ServiceRequest/{query}&_lastUpdated=gt{query}",
            {},
            None,
        ),
        ("notifier", "agency", "GET", f"/reports/referrals.csv?x={query}", {}, None),
        ("notifier", "operator", "POST", f"/operator/dead-letters/{segment}/retry", {}, None),
        (
            "notifier",
            "agency",
            "POST",
            "/fhir/Subscription",
            {},
            json.dumps(
                {
                    "resourceType": "Subscription",
                    "reason": value,
                    "criteria": f"Task?requester={CVA}",
                    "channel": {
                        "type": "rest-hook",
                        "endpoint": f"https://hooks.example/{value}",
                        "header": [f"X-Key: {value}"],
                    },
                }
            ).encode(),
        ),
        ("router", "link_worker", "GET", f"/fhir/Task/{segment}", {}, None),
        ("router", "link_worker", "GET", f"/fhir/Task?owner=PractitionerRole/{query}", {}, None),
        ("router", "link_worker", "POST", f"/fhir/Task/{segment}/$accept", {}, None),
        (
            "router",
            "link_worker",
            "POST",
            f"/fhir/Task/{segment}/$decline",
            {},
            json.dumps({"reason": value}).encode(),
        ),
        (
            "router",
            "link_worker",
            "POST",
            f"/fhir/Task/{segment}/$update-status",
            {},
            json.dumps({"status": "on-hold", "reason": value}).encode(),
        ),
        (
            "router",
            "coordinator",
            "POST",
            f"/fhir/Task/{segment}/$assign",
            {},
            json.dumps({"worker": value}).encode(),
        ),
    ]


def _as_header(value: str) -> bytes:
    """What of `value` an HTTP client can send in a header: its UTF-8 bytes without the C0
    controls and DEL, which clients refuse (test_hostile_input sends those on a raw socket)."""
    return bytes(byte for byte in value.encode() if byte >= 0x20 and byte != 0x7F)


def _header_free(answer: httpx.Response) -> None:
    assert "x-injected" not in answer.headers
    for name, header in answer.headers.raw:
        assert not {b"\r", b"\n"} & {bytes([c]) for c in name + header}, (name, header)


async def test_no_input_forges_a_log_line_or_a_response_header(
    stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    tried = 0
    async with httpx.AsyncClient(timeout=30) as client:
        for value in HOSTILE:
            for service, role, method, path, headers, body in _requests(value):
                token = issue_token(stack.auth_secret, CALLERS[role])
                answer = await client.request(
                    method,
                    hub[service].url + path,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        TRACEPARENT: _as_header(value),
                        **headers,
                    },
                )
                tried += 1
                assert answer.status_code < 500, (service, path, answer.text[:300])
                _header_free(answer)
            tried += await _kafka_spots(stack, value)
    await asyncio.sleep(3.0)  # let the consumers take (and log) what was published
    for process in hub.values():
        process.stop()
    print(f"\nhostile inputs tried for log and header injection: {tried}")

    lines = [
        (path.name, line)
        for path in Path(hub["intake"].log_dir).glob("*.log")
        for line in path.read_text(encoding="utf-8", errors="replace").split("\n")
        if line
    ]
    assert len(lines) > 50, "the services logged almost nothing: is the test reading the logs?"
    forged = [(name, line[:200]) for name, line in lines if not genuine(line)]
    assert forged == [], f"{len(forged)} lines that are not a service's record: {forged[:5]}"
    escapes = [(name, line[:200]) for name, line in lines if "\x1b" in line or "\x07" in line]
    assert escapes == [], escapes[:5]


async def _kafka_spots(stack: IsolatedStack, value: str) -> int:
    """The value as message keys and headers: on an agency's inbound topic, and on the hub's
    own topics (as a broken event, which consumers set aside and log by its event id)."""
    raw = value.encode("utf-8", "replace")
    headers = [(EVENT_ID, raw), (TRACEPARENT, raw), ("message_id", raw), ("correlation_id", raw)]
    topics = stack.topics
    sent = 0
    for topic, body in (
        (topics.inbound("community"), example("community", "-KAFKA")),
        (topics.inbound("police"), b"not json " + raw),
        (topics.requested, b"not json"),
        (topics.tasks, b"{}"),
        (topics.rejected, b"[]"),
    ):
        await publish(stack.kafka_bootstrap_servers, topic, body, key=value, headers=headers)
        sent += 1
    return sent
