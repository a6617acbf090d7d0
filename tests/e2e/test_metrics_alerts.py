"""Metrics and alerts on the running hub: a real Prometheus (Debian's package) scrapes intake,
router and notifier every second with an operator's token, the series move when referrals
flow, and the hub's own alert rules (deploy/prometheus/alerts.yml, `for:` shortened) fire when
a consumer stops."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from hub_common.security.auth import Principal, issue_token
from tests.support.fixtures import FIXTURES
from tests.support.infra import REPO
from tests.support.kafka_io import collect, publish
from tests.support.processes import ServiceProcess, run_cli
from tests.support.prometheus import RULES, Prometheus, binary, running_prometheus
from tests.support.stack import IsolatedStack
from tests.support.variants import example, without_consent

pytestmark = pytest.mark.infra

# Panels with no data in a short healthy run: nothing timed out, breached or was given up.
QUIET_PANELS = {
    "Offers timed out and SLA breaches (1 h)",
    "Messages retried and set aside",
}


@pytest.fixture(scope="module")
def token(stack: IsolatedStack) -> str:
    return issue_token(stack.env()["HUB_AUTH_SECRET"], Principal("operator", "prometheus"))


@pytest.fixture(scope="module")
def services(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    env = {**stack.env(), "HUB_METRICS_INTERVAL_SECONDS": "1"}
    log_dir = tmp_path_factory.mktemp("metrics-logs")
    running = {
        name: ServiceProcess(name, env, log_dir) for name in ("intake", "router", "notifier")
    }
    try:
        for process in running.values():
            process.start()
        yield running
    finally:
        for process in running.values():
            process.stop()


@pytest.fixture(scope="module")
def prometheus(services: dict[str, ServiceProcess], token: str) -> Iterator[Prometheus]:
    targets = {f"referral-hub-{name}": f"127.0.0.1:{p.port}" for name, p in services.items()}
    with running_prometheus(targets, token) as running:
        yield running


def test_promtool_accepts_the_rules_and_the_local_configuration() -> None:
    for arguments in (
        ["check", "rules", str(RULES)],
        ["check", "config", "--syntax-only", str(RULES.with_name("prometheus.yml"))],
    ):
        checked = subprocess.run(
            [binary("promtool"), *arguments], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_need_an_operator_token(
    stack: IsolatedStack, services: dict[str, ServiceProcess], token: str
) -> None:
    url = f"{services['router'].url}/metrics"
    assert httpx.get(url).status_code == 401
    worker = issue_token(stack.env()["HUB_AUTH_SECRET"], Principal("link_worker", "lw-cr-twi"))
    assert httpx.get(url, headers={"Authorization": f"Bearer {worker}"}).status_code == 403
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert "hub_consumer_lag" in answer.text


async def until(
    what: str, check: Callable[[], bool], prometheus: Prometheus, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds:.0f} s; alerts: {prometheus.alerts()}")
        await asyncio.sleep(0.5)


async def test_series_move_when_referrals_flow_and_an_alert_fires_when_a_consumer_stops(
    stack: IsolatedStack,
    services: dict[str, ServiceProcess],
    prometheus: Prometheus,
    token: str,
) -> None:
    started = time.monotonic()
    assert "published 3 link workers" in run_cli(
        stack.env(), "workers", "load", str(FIXTURES / "roster-small.csv")
    )
    await until(
        "every service scraped",
        lambda: prometheus.value('count(up{job=~"referral-hub-.*"} == 1)') == 3,
        prometheus,
    )

    def total(expression: str) -> float:
        return prometheus.value(f"sum({expression})") or 0.0

    decisions_before = total("hub_assignment_decisions_total")
    consumed_before = total('faststream_received_messages_total{app_name="router"}')
    refused_before = total('hub_referrals_refused_total{source="community"}')

    run = uuid.uuid4().hex[:6]
    topic = stack.topics.inbound("community")
    for n in range(3):
        await publish(
            stack.kafka_bootstrap_servers,
            topic,
            example("community", f"-m{run}{n}"),
            key=f"m{run}{n}",
        )
    await publish(
        stack.kafka_bootstrap_servers, topic, without_consent("community", f"-m{run}x"), key="x"
    )
    await collect(stack.kafka_bootstrap_servers, stack.topics.tasks, lambda seen: len(seen) >= 3)
    # An HTTP route the instrumentation times by its template, never by its ids.
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{services['router'].url}/fhir/Task/{uuid.uuid4()}",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 403

    await until(
        "three assignment decisions counted",
        lambda: total('hub_assignment_decisions_total{outcome="offered"}') >= decisions_before + 3,
        prometheus,
    )
    await until(
        "the router's consumption counted per topic",
        lambda: (
            total(
                f'faststream_received_messages_total{{app_name="router",handler="{stack.topics.requested}"}}'
            )
            >= 3
            and total('faststream_received_messages_total{app_name="router"}') > consumed_before
        ),
        prometheus,
    )
    await until(
        "the refused referral counted",
        lambda: total('hub_referrals_refused_total{source="community"}') >= refused_before + 1,
        prometheus,
    )
    await until(
        "the route timed by its template",
        lambda: total('http_request_duration_seconds_count{handler="/fhir/Task/{task_id}"}') >= 1,
        prometheus,
    )
    # Sampled gauges: consumer lag per group and topic, caught up; the outboxes drained.
    await until(
        "the router's lag on referrals.requested sampled at 0",
        lambda: (
            prometheus.value(
                f'max(hub_consumer_lag{{job="referral-hub-router",topic="{stack.topics.requested}"}})'
            )
            == 0
        ),
        prometheus,
    )
    # Over the last 30 s: a loaded machine may miss a one-second scrape now and then.
    for series in ("hub_outbox_depth", "hub_outbox_oldest_age_seconds", "hub_db_pool_size"):
        assert prometheus.value(f"count(last_over_time({series}[30s]))") == 3, series
    assert prometheus.value("min(last_over_time(hub_dependency_up[30s]))") == 1
    # Nothing else is wrong with a healthy hub (a missed scrape is no outage: `for` covers it).
    firing = {a["labels"]["alertname"] for a in prometheus.alerts() if a["state"] == "firing"}
    assert not firing - {"HubServiceDown"}, firing

    # Every panel of the Grafana dashboard is a query Prometheus takes, with data behind it.
    dashboard = json.loads((REPO / "deploy" / "grafana" / "referral-hub.json").read_text())

    def empty_panels() -> list[str]:
        return [
            panel["title"]
            for panel in dashboard["panels"]
            for target in panel["targets"]
            if not prometheus.query(target["expr"]) and panel["title"] not in QUIET_PANELS
        ]

    # A rate over a series born moments ago needs a second scrape of it: allow a few.
    deadline = time.monotonic() + 20
    while (empty := empty_panels()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(1)
    assert not empty, empty

    # Stop the router: its consumers stop with it, and the readiness alert fires.
    services["router"].stop()
    await until(
        "HubServiceDown firing for the router",
        lambda: any(
            alert["labels"]["alertname"] == "HubServiceDown"
            and alert["labels"]["job"] == "referral-hub-router"
            and alert["state"] == "firing"
            for alert in prometheus.alerts()
        ),
        prometheus,
    )
    print(f"metrics and alert test took {time.monotonic() - started:.1f} s")
