"""Hostile HTTP input against the running intake, router and notifier, with valid credentials:
oversized bodies (declared and chunked), deep nesting, invalid UTF-8, NUL bytes, huge headers,
duplicate keys, wrong media types and garbage in every inbound format.

Each answer must be below 500 and, when it refuses, say what is wrong and where (the field, or
the body); the service must still be ready afterwards. `-s` prints how many inputs were tried.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hub_common.security.auth import Principal, issue_token
from tests.support.credentials import CVA
from tests.support.processes import ServiceProcess, running_hub
from tests.support.stack import IsolatedStack
from tests.support.variants import EXAMPLES, example

pytestmark = pytest.mark.infra

LIMIT = 1_000_000  # every service's default body limit (intake's HUB_AGENCY_MESSAGE_MAX_BYTES too)
DEPTH = 100_000
TASK = "no-such-task"
CALLERS = {
    "agency": Principal("agency", CVA, organisation=CVA, sources=tuple(EXAMPLES)),
    "link_worker": Principal("link_worker", "lw-croydon-01"),
    "coordinator": Principal("coordinator", "co-1", boroughs=("Croydon",)),
}
Body = bytes | Callable[[], Iterator[bytes]]


@dataclass(frozen=True)
class Endpoint:
    service: str
    path: str
    role: str
    media_type: str = "application/json"


BODY_ENDPOINTS = [
    *(
        Endpoint(
            "intake",
            f"/referrals/{source}",
            "agency",
            "text/csv" if source == "housing" else "application/json",
        )
        for source in EXAMPLES
    ),
    Endpoint("intake", "/fhir", "agency", "application/fhir+json"),
    Endpoint("intake", "/fhir/ServiceRequest", "agency", "application/fhir+json"),
    Endpoint("router", f"/fhir/Task/{TASK}/$decline", "link_worker"),
    Endpoint("router", f"/fhir/Task/{TASK}/$update-status", "link_worker"),
    Endpoint("router", f"/fhir/Task/{TASK}/$assign", "coordinator"),
    Endpoint("notifier", "/fhir/Subscription", "agency", "application/fhir+json"),
]


@dataclass(frozen=True)
class Attack:
    label: str
    endpoint: Endpoint
    body: Body = b""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    expect: tuple[int, ...] = ()  # the statuses it must get, when it matters which


def _chunked(size: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        for _ in range(size // 100_000 + 1):
            yield b"[" * 100_000

    return chunks


def _garbage(seed: int, size: int = 4096) -> bytes:
    return random.Random(seed).randbytes(size)


BODY_ATTACKS: dict[str, tuple[Body, tuple[int, ...]]] = {
    "oversized, declared": (b"x" * (LIMIT + 1), (413,)),
    "oversized, chunked": (_chunked(LIMIT + 1), (413,)),
    "nested arrays": (b"[" * DEPTH + b"]" * DEPTH, ()),
    "nested objects": (b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, ()),
    "invalid UTF-8": (b'{"reason": "\xff\xfe\xc3\x28", "resourceType": "\xed\xa0\x80"}', ()),
    "raw NUL byte": (b'{"reason": "a\x00b"}', ()),
    "empty": (b"", ()),
    "binary garbage": (_garbage(1), ()),
    "JSON null": (b"null", ()),
    "JSON array": (b"[1, 2, 3]", ()),
    "JSON string": (b'"referral"', ()),
    "JSON number": (b"1e999999", ()),
    "duplicate keys": (b'{"reason": "a", "reason": "b", "worker": "x", "worker": "y"}', ()),
    "escaped NUL everywhere": (
        json.dumps(
            {
                "reason": "a\u0000b",
                "worker": "lw\u0000",
                "status": "on-hold",
                "resourceType": "Subscription",
                "criteria": "Task?x=\u0000",
                "channel": {"type": "rest-hook", "endpoint": "https://a.example/\u0000"},
            }
        ).encode(),
        (),
    ),
    "lone surrogate escape": (b'{"reason": "\\ud800", "worker": "\\udfff"}', ()),
    "huge string": (json.dumps({"reason": "r" * 900_000}).encode(), ()),
}


def _attacks_on_bodies() -> list[Attack]:
    attacks = [
        Attack(f"{label} to {endpoint.service} {endpoint.path}", endpoint, body, expect=expect)
        for endpoint in BODY_ENDPOINTS
        for label, (body, expect) in BODY_ATTACKS.items()
    ]
    for endpoint in BODY_ENDPOINTS:
        for media_type in ("text/plain", "application/xml", "multipart/form-data", "x/\x7f"):
            attacks.append(
                Attack(
                    f"{media_type!r} to {endpoint.service} {endpoint.path}",
                    endpoint,
                    b'{"reason": "wrong media type", "worker": "lw-1"}',
                    headers={"Content-Type": media_type},
                )
            )
    return attacks


def _format_garbage() -> list[Attack]:
    """Each inbound format's own document, broken in the ways agencies' systems break it."""
    attacks = []
    for source in EXAMPLES:
        endpoint = next(e for e in BODY_ENDPOINTS if e.path == f"/referrals/{source}")
        good = example(source, "-HOSTILE")
        broken = {
            "truncated": good[: len(good) // 2],
            "BOM, then garbage": b"\xef\xbb\xbf" + _garbage(2, 512),
            "UTF-16": good.decode().encode("utf-16"),
            "Latin-1 bytes": good.decode().replace("a", "\u00e9").encode("latin-1"),
            "every value a number": _every_value(good, 12345),
            "every value a list": _every_value(good, [["x"]]),
            "every value null": _every_value(good, None),
            "every string 100k long": _every_value(good, "z" * 100_000, only_strings=True),
            "NUL in every string": _every_value(good, "a\u0000b", only_strings=True),
            "CSV with ragged rows": b"landlord,landlord_ref\na,b,c,d\n\n,,\n",
            "CSV with an unclosed quote": b'landlord,landlord_ref\n"a,b\n',
            "CSV with a 200k field": b"landlord,landlord_ref\n" + b"a" * 200_000 + b",x\n",
            "CSV header only": good.split(b"\n")[0] + b"\n",
            "CSV with NUL": good.replace(b",", b",\x00", 3),
            "CSV with 10k columns": b",".join(b"c%d" % i for i in range(10_000)) + b"\n1\n",
        }
        attacks += [Attack(f"{source}: {label}", endpoint, body) for label, body in broken.items()]
    return attacks


def _every_value(document: bytes, replacement: Any, *, only_strings: bool = False) -> bytes:
    try:
        parsed = json.loads(document)
    except ValueError:  # CSV: every cell instead
        lines = document.decode().splitlines()
        cells = ",".join([json.dumps(replacement)] * len(lines[0].split(",")))
        return "\n".join([lines[0], cells]).encode()

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list) and value:
            return [swap(v) for v in value]
        if only_strings and not isinstance(value, str):
            return value
        return replacement

    return json.dumps(swap(parsed)).encode()


READS = [
    Endpoint("notifier", "/fhir/Task?status=%ff%fe&focus=ServiceRequest/%ff", "agency"),
    Endpoint("notifier", "/fhir/Task?_lastUpdated=gt%ff&_lastUpdated=%00", "agency"),
    Endpoint("notifier", "/fhir/Task?_count=99999999999999999999999", "agency"),
    Endpoint("notifier", "/fhir/Task?requester=" + "x" * 50_000, "agency"),
    Endpoint("notifier", "/fhir/Task/%ff%fe", "agency"),
    Endpoint("notifier", "/fhir/Task/%C0%AF/_history", "agency"),
    Endpoint("notifier", "/fhir/ServiceRequest/" + "9" * 5000, "agency"),
    Endpoint("notifier", "/fhir/Subscription/%ff%00", "agency"),
    Endpoint("notifier", "/reports/referrals.csv?x=%ff%fe&y=%00", "agency"),
    Endpoint("router", "/fhir/Task?owner=PractitionerRole/%ff&status=%ff", "link_worker"),
    Endpoint("router", "/fhir/Task/%ff%fe", "link_worker"),
    Endpoint("router", "/fhir/Task/%e2%80%ae", "coordinator"),
    Endpoint("router", "/coordination/waiting?limit=%ff", "coordinator"),
    Endpoint("intake", "/referrals/%ff%fe", "agency"),
    Endpoint("intake", "/referrals/" + "s" * 5000, "agency"),
]


SSRF_ENDPOINTS = [
    "https://127.0.0.1/hook",
    "https://localhost:8003/fhir/Task",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/admin",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
]


def _attacks_on_webhook_targets() -> list[Attack]:
    """Subscriptions aimed into the hub's own network (server-side request forgery)."""
    subscribe = Endpoint("notifier", "/fhir/Subscription", "agency", "application/fhir+json")
    return [
        Attack(
            f"webhook endpoint {target}",
            subscribe,
            json.dumps(
                {
                    "resourceType": "Subscription",
                    "status": "requested",
                    "criteria": "https://referral-hub.org/fhir/SubscriptionTopic/referral-task",
                    "channel": {"type": "rest-hook", "endpoint": target},
                }
            ).encode(),
            expect=(400,),
        )
        for target in SSRF_ENDPOINTS
    ]


def _attacks_on_urls() -> list[Attack]:
    return [
        Attack(
            f"{e.path[:60]} on {e.service}",
            e,
            method="POST" if e.service == "intake" else "GET",
        )
        for e in READS
    ]


def _attacks_on_headers() -> list[Attack]:
    notifier = Endpoint("notifier", "/fhir/Task", "agency")
    intake = Endpoint("intake", "/referrals/community", "agency")
    router = Endpoint("router", f"/fhir/Task/{TASK}/$accept", "link_worker")
    huge = "h" * 60_000
    return [
        Attack("60 kB header value", notifier, method="GET", headers={"X-Huge": huge}),
        Attack(
            "60 kB traceparent", intake, example("community", "-TP"), headers={"traceparent": huge}
        ),
        Attack("60 kB traceparent", router, headers={"traceparent": huge}),
        Attack("malformed traceparent", router, headers={"traceparent": "00-zz-zz-zz-zz-zz"}),
        Attack(
            "500 headers",
            notifier,
            method="GET",
            headers={f"X-Many-{n}": "v" for n in range(500)},
        ),
        Attack(
            "non-numeric Content-Length-like header",
            intake,
            example("community", "-CL"),
            headers={"X-Content-Length": "-1"},
        ),
    ]


ATTACKS = (
    _attacks_on_bodies()
    + _format_garbage()
    + _attacks_on_urls()
    + _attacks_on_headers()
    + _attacks_on_webhook_targets()
)
TRIED: list[str] = []


@pytest.fixture(scope="module")
def hub(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    with running_hub(stack.env(), tmp_path_factory.mktemp("hostile")) as running:
        yield running
    print(f"\nhostile HTTP inputs tried: {len(TRIED)}")


def explained(answer: httpx.Response) -> None:
    """A refusal names what is wrong: the field (OperationOutcome expression, FastAPI loc) or
    the body, in words."""
    if answer.status_code < 400:
        return
    if "json" not in answer.headers.get("content-type", ""):
        # Refused by the HTTP server before any route (a malformed header): in its own words.
        assert answer.status_code == 400 and answer.text, answer.text
        return
    body = answer.json()
    if body.get("resourceType") == "OperationOutcome":
        for issue in body["issue"]:
            assert issue["diagnostics"] and issue["expression"] and issue["expression"][0], body
    elif "results" in body:  # intake: one outcome per referral, each with its issues
        for result in body["results"]:
            for issue in result["outcome"]["issue"]:
                assert issue["diagnostics"] and issue["expression"], body
    elif isinstance(body.get("detail"), list):  # FastAPI's validation: loc names the field
        assert all(item["loc"] and item["msg"] for item in body["detail"]), body
    else:
        assert isinstance(body.get("detail"), str) and body["detail"], body


def still_ready(process: ServiceProcess) -> None:
    assert process.process is not None and process.process.poll() is None, process.tail()
    ready = httpx.get(f"{process.url}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.label[:90] for a in ATTACKS])
def test_hostile_input_is_refused_with_reasons_and_no_harm(
    attack: Attack, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    endpoint = attack.endpoint
    token = issue_token(stack.auth_secret, CALLERS[endpoint.role])
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": endpoint.media_type,
        **attack.headers,
    }
    body = attack.body() if callable(attack.body) else attack.body
    TRIED.append(attack.label)
    answer = httpx.request(
        attack.method,
        hub[endpoint.service].url + endpoint.path,
        content=body if attack.method == "POST" else None,
        headers=headers,
        timeout=60,
    )
    assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:300]}"
    if attack.expect:
        assert answer.status_code in attack.expect, answer.text[:300]
    explained(answer)
    still_ready(hub[endpoint.service])


RAW_REQUESTS = {  # bytes no HTTP client library would send
    "invalid UTF-8 in the path": b"GET /fhir/Task/\xff\xfe HTTP/1.1\r\n",
    "invalid UTF-8 in the query": b"GET /fhir/Task?status=\xff\xfe HTTP/1.1\r\n",
    "ESC in the query": b"GET /fhir/Task?status=\x1b[31m HTTP/1.1\r\n",
    "raw NUL in the path": b"GET /fhir/Task/a\x00b HTTP/1.1\r\n",
}
RAW_HEADERS = {
    "NUL in a header": b"X-Test: a\x00b\r\n",
    "ESC in a header": b"X-Test: a\x1b[2Jb\r\n",
    "invalid UTF-8 in a header": b"X-Test: \xff\xfe\r\n",
    "bare CR in a header": b"X-Test: a\rInjected: 1\r\n",
    "obsolete line folding": b"X-Test: a\r\n folded\r\n",
}


def raw_exchange(process: ServiceProcess, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.parametrize("service", ["intake", "router", "notifier"])
def test_malformed_bytes_in_the_request_line_and_headers(
    service: str, stack: IsolatedStack, hub: dict[str, ServiceProcess]
) -> None:
    token = issue_token(stack.auth_secret, CALLERS["agency"]).encode()
    auth = b"Authorization: Bearer " + token + b"\r\nHost: hub\r\nConnection: close\r\n"
    requests = [line + auth + b"\r\n" for line in RAW_REQUESTS.values()]
    requests += [
        b"GET /fhir/Task HTTP/1.1\r\n" + header + auth + b"\r\n" for header in RAW_HEADERS.values()
    ]
    for request in requests:
        TRIED.append(f"raw bytes to {service}")
        answer = raw_exchange(hub[service], request)
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line == b"" or int(status_line.split()[1]) < 500, answer[:300]
        still_ready(hub[service])
