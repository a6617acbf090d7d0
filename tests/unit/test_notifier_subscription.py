"""Subscriptions: who may follow what, event numbering, and reading the resource."""

from types import SimpleNamespace

import pytest

from hub_notifier.adapters.fhir_subscription import (
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    PAYLOAD_CONTENT,
    read_subscription,
    subscription_resource,
)
from hub_notifier.domain.notification import TASK_TOPIC
from hub_notifier.domain.subscription import (
    Channel,
    RefusedSubscription,
    check_filter,
    number_events,
)

ORG = "https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action"
OTHER = "https://fhir.nhs.uk/Id/ods-organization-code|H85001"


def test_the_default_filter_is_the_agencys_own_tasks() -> None:
    assert check_filter(None, ORG) == f"Task?requester={ORG}"
    assert check_filter("Task", ORG) == f"Task?requester={ORG}"
    assert check_filter(f"Task?requester={ORG}", ORG) == f"Task?requester={ORG}"
    assert check_filter(f"Task?requester:identifier={ORG}", ORG) == f"Task?requester={ORG}"


def test_a_filter_on_another_organisation_is_forbidden() -> None:
    with pytest.raises(RefusedSubscription) as refused:
        check_filter(f"Task?requester={OTHER}", ORG)
    assert refused.value.forbidden


@pytest.mark.parametrize("criteria", ["ServiceRequest?requester=x", "Task?status=completed"])
def test_other_filters_are_refused(criteria: str) -> None:
    with pytest.raises(RefusedSubscription) as refused:
        check_filter(criteria, ORG)
    assert not refused.value.forbidden


def test_event_numbers_continue_from_the_counter_without_gaps() -> None:
    assert number_events(0, 1) == (range(1, 2), 1)
    numbers, counter = number_events(41, 3)
    assert list(numbers) == [42, 43, 44]
    assert counter == 44
    # Numbering event after event, as each change does, gives 1..n with nothing missing.
    counter, seen = 0, []
    for _ in range(10):
        numbers, counter = number_events(counter, 1)
        seen.extend(numbers)
    assert seen == list(range(1, 11))
    with pytest.raises(ValueError):
        number_events(-1, 1)


def backport(endpoint: str = "https://agency.example/hook", **channel: object) -> dict[str, object]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "status updates",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [{"url": FILTER_CRITERIA, "valueString": f"Task?requester={ORG}"}]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
            "header": ["Authorization: Bearer abc"],
            **channel,
        },
    }


def test_a_backport_subscription_becomes_a_command() -> None:
    command = read_subscription(backport(), ORG, allow_http=False)
    assert command.channel is Channel.REST_HOOK
    assert command.endpoint == "https://agency.example/hook"
    assert command.headers == ("Authorization: Bearer abc",)
    assert command.filter_criteria == f"Task?requester={ORG}"


def test_plain_r4_criteria_and_the_kafka_channel_are_accepted() -> None:
    resource = {"resourceType": "Subscription", "criteria": "Task", "channel": {"type": "message"}}
    command = read_subscription(resource, ORG, allow_http=False)
    assert command.channel is Channel.MESSAGE
    assert command.endpoint is None


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({**backport(), "criteria": "https://elsewhere/topic"}, "Subscription.criteria"),
        (backport("http://agency.example/hook"), "Subscription.channel.endpoint"),
        (backport("file:///etc/passwd"), "Subscription.channel.endpoint"),
        (backport(type="websocket"), "Subscription.channel.type"),
        (backport(header=["no colon"]), "Subscription.channel.header"),
        (backport(header=["X: a\r\nInjected: b"]), "Subscription.channel.header"),
        (
            backport(
                _payload={"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "full-resource"}]}
            ),
            "Subscription.channel.payload",
        ),
    ],
)
def test_what_cannot_be_offered_is_refused_naming_the_element(
    resource: dict[str, object], field: str
) -> None:
    with pytest.raises(RefusedSubscription) as refused:
        read_subscription(resource, ORG, allow_http=False)
    assert refused.value.field == field


def test_plain_http_endpoints_only_when_allowed() -> None:
    command = read_subscription(backport("http://127.0.0.1:9/hook"), ORG, allow_http=True)
    assert command.endpoint == "http://127.0.0.1:9/hook"


def test_the_secret_is_shown_only_when_asked_and_header_values_never() -> None:
    row = SimpleNamespace(
        subscription_id="s1",
        status="active",
        reason="r",
        channel="rest-hook",
        endpoint="https://agency.example/hook",
        headers=["Authorization: Bearer abc"],
        filter_criteria=f"Task?requester={ORG}",
        heartbeat_seconds=None,
    )
    shown = subscription_resource(row)
    assert "extension" not in shown
    assert shown["channel"]["header"] == ["Authorization: ***"]
    assert subscription_resource(row, secret="s3cret")["extension"][0]["valueString"] == "s3cret"


def with_heartbeat(resource: dict, period: object) -> dict:
    channel = {
        **resource["channel"],
        "extension": [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": period}],
    }
    return {**resource, "channel": channel}


def test_a_heartbeat_period_is_read_within_its_bounds_and_for_rest_hooks_only() -> None:
    resource = backport("https://agency.example/hook")
    assert read_subscription(resource, ORG, allow_http=False).heartbeat_seconds is None
    command = read_subscription(with_heartbeat(resource, 300), ORG, allow_http=False)
    assert command.heartbeat_seconds == 300
    for period in (59, 86_401, "300", True):
        with pytest.raises(RefusedSubscription) as refused:
            read_subscription(with_heartbeat(resource, period), ORG, allow_http=False)
        assert refused.value.field == "Subscription.channel.extension(heartbeatPeriod)"
    kafka = with_heartbeat({**resource, "channel": {"type": "message"}}, 300)
    with pytest.raises(RefusedSubscription, match="rest-hook"):
        read_subscription(kafka, ORG, allow_http=False)


def test_the_heartbeat_period_is_shown_back() -> None:
    row = SimpleNamespace(
        subscription_id="s1",
        status="active",
        reason="r",
        channel="rest-hook",
        endpoint="https://agency.example/hook",
        headers=[],
        filter_criteria=f"Task?requester={ORG}",
        heartbeat_seconds=120,
    )
    channel = subscription_resource(row)["channel"]
    assert channel["extension"] == [{"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 120}]
