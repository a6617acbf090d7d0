"""`referral-hub demo webhooks`: see the hub's signed webhooks on your own machine.

The notifier refuses loopback endpoints (rightly: the hub must not be aimed at its own
network), so on the `make run` stack an operator could never watch a webhook arrive. In the
demo mode (`make run DEMO=webhooks`, which also sets `NOTIFIER_ALLOW_HTTP_ENDPOINTS=true`)
this command subscribes the demo agency to its referrals' changes with an endpoint on
loopback, receives every delivery, checks its signature as a real receiver must (the
timestamp is recent, the HMAC of `"<timestamp>.<body>"` matches the subscription's secret),
and lists them on a page. Nothing personal arrives: the hub's notifications carry ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from hub_common.security.auth import Principal, issue_token
from hub_notifier.public import SECRET_EXTENSION, TASK_TOPIC, verify, verify_standard

FILTER_EXTENSION = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria"
)
KEPT = 200
STANDARD_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)  # deliveries shown; older ones are forgotten


@dataclass(frozen=True)
class Delivery:
    """One request the notifier made to the demo endpoint, as it arrived."""

    received_at: datetime
    timestamp: str
    signature: str
    body: bytes
    standard_headers: tuple[tuple[str, str], ...] = ()  # webhook-id, -timestamp, -signature

    def summary(self) -> tuple[str, str]:
        """The notification's type and the events it carries (`#3 Task/abc`), from its body."""
        try:
            bundle = json.loads(self.body)
            status = bundle["entry"][0]["resource"]
            params = status.get("parameter") or []
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return "unreadable", ""
        kind = next((p.get("valueCode") for p in params if p.get("name") == "type"), "?")
        kind = {"event-notification": "change"}.get(str(kind), kind)
        events = []
        for param in params:
            if param.get("name") != "notification-event":
                continue
            parts = {part.get("name"): part for part in param.get("part") or []}
            number = (parts.get("event-number") or {}).get("valueString", "?")
            focus = ((parts.get("focus") or {}).get("valueReference") or {}).get("reference", "")
            events.append(f"#{number} {focus}".strip())
        return str(kind), ", ".join(events)


@dataclass
class DemoReceiver:
    """The deliveries received so far, and the secret that checks them once it is known (the
    handshake can arrive before the notifier's answer to the subscription does)."""

    secret: str | None = None
    subscription_id: str | None = None
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=KEPT))

    def check(self, delivery: Delivery) -> str:
        """'valid', or why not: what a receiver decides before trusting a request."""
        if self.secret is None:
            return "not checked yet (no secret)"
        try:
            timestamp = int(delivery.timestamp)
        except ValueError:
            return "invalid: no timestamp"
        now = delivery.received_at.timestamp()
        if verify(self.secret, timestamp, delivery.body, delivery.signature, now=now):
            return "valid"
        return "invalid: forged, altered or stale"

    def check_standard(self, delivery: Delivery) -> str:
        """The same judgement on the Standard Webhooks headers, when the request has them."""
        if not delivery.standard_headers:
            return "absent"
        if self.secret is None:
            return "not checked yet"
        headers = dict(delivery.standard_headers)
        return "valid" if verify_standard(self.secret, delivery.body, headers) else "invalid"


def _page(receiver: DemoReceiver) -> str:
    rows = []
    for delivery in reversed(receiver.deliveries):
        kind, events = delivery.summary()
        verdict = receiver.check(delivery)
        mark = "✔" if verdict == "valid" else "✘"
        standard = receiver.check_standard(delivery)
        if standard != "absent":
            verdict += f"; Standard Webhooks: {standard}"
        rows.append(
            "<tr>"
            f"<td>{delivery.received_at:%H:%M:%S}</td>"
            f"<td>{html.escape(kind)}</td>"
            f"<td>{html.escape(events) or '-'}</td>"
            f'<td class="{"ok" if verdict == "valid" else "bad"}">{mark} {html.escape(verdict)}</td>'
            "</tr>"
        )
    table = (
        "<table><caption>Deliveries, newest first</caption><thead><tr><th scope='col'>Received"
        "</th><th scope='col'>Type</th><th scope='col'>Events</th><th scope='col'>Signature</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>Nothing yet. Send a referral as the demo agency and watch it arrive.</p>"
    )
    subscription = html.escape(receiver.subscription_id or "not yet created")
    return f"""<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Webhook deliveries · Referral hub demo</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1rem;color:#1b1b1b;line-height:1.5}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #6f777b;vertical-align:top;overflow-wrap:break-word}}
td:first-child{{white-space:nowrap}}
.ok{{color:#00703c}}.bad{{color:#b10e1e}}caption{{text-align:left;font-weight:bold}}
</style></head>
<body><main>
<h1>Webhook deliveries</h1>
<p>Subscription {subscription} of the demo agency. Each request's <code>X-Hub-Signature</code>
is checked against the subscription's secret and its <code>X-Hub-Timestamp</code> (at most five
minutes old), and so is its Standard Webhooks <code>webhook-signature</code>. <a href="/">Reload</a> to see new deliveries.</p>
{table}
</main></body></html>"""


def receiver_app(receiver: DemoReceiver) -> FastAPI:
    app = FastAPI(title="Referral hub: webhook demo", openapi_url=None, docs_url=None)

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        receiver.deliveries.append(
            Delivery(
                datetime.now(UTC),
                request.headers.get("x-hub-timestamp", ""),
                request.headers.get("x-hub-signature", ""),
                await request.body(),
                tuple(
                    (name, request.headers[name])
                    for name in STANDARD_HEADERS
                    if name in request.headers
                ),
            )
        )
        return Response(status_code=200)

    @app.get("/", response_class=HTMLResponse)
    async def deliveries() -> str:
        return _page(receiver)

    return app


def subscription_body(endpoint: str, organisation: str) -> dict[str, Any]:
    """Every change to the organisation's referrals, to `endpoint`, ids only."""
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "referral-hub demo webhooks",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [
                {"url": FILTER_EXTENSION, "valueString": f"Task?requester={organisation}"}
            ]
        },
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json"},
    }


async def subscribe(
    client: httpx.AsyncClient, notifier_url: str, token: str, endpoint: str, organisation: str
) -> tuple[str, str]:
    """Create the subscription; its id and signing secret (given once)."""
    answer = await client.post(
        f"{notifier_url.rstrip('/')}/fhir/Subscription",
        json=subscription_body(endpoint, organisation),
        headers={"Authorization": f"Bearer {token}"},
    )
    if answer.status_code != 201:
        raise RuntimeError(
            f"the notifier at {notifier_url} refused the demo subscription "
            f"({answer.status_code}): {answer.text[:300]} (is NOTIFIER_ALLOW_HTTP_ENDPOINTS=true?)"
        )
    resource = answer.json()
    secret = next(e["valueString"] for e in resource["extension"] if e["url"] == SECRET_EXTENSION)
    return str(resource["id"]), str(secret)


async def run_demo(
    *, auth_secret: str, notifier_url: str, organisation: str, port: int, host: str = "127.0.0.1"
) -> None:
    """Serve the receiver, subscribe once it listens, then serve until stopped."""
    receiver = DemoReceiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver_app(receiver), host=host, port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # raises why it could not start (the port is taken, say)
            return
        await asyncio.sleep(0.05)
    token = issue_token(
        auth_secret,
        Principal("agency", subject=organisation, organisation=organisation),
        ttl_seconds=7 * 24 * 3600,
    )
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            receiver.subscription_id, receiver.secret = await subscribe(
                client, notifier_url, token, f"http://{host}:{port}/hook", organisation
            )
        except BaseException:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await serving
            raise
    print(
        f"webhook demo: subscription {receiver.subscription_id}; deliveries at "
        f"http://{host}:{port}/ (started {time.strftime('%H:%M:%S')})",
        flush=True,
    )
    await serving
