"""Webhook endpoints must be public: the hub must never be made to call into a private network
(server-side request forgery), whether the endpoint names an address or a host that resolves
to one."""

from __future__ import annotations

import pytest

from hub_notifier.adapters.endpoint_guard import PrivateEndpoint, check_public, is_public
from hub_notifier.adapters.webhook import WebhookSender


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud instance metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
    ],
)
def test_private_local_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "2a00:1450:4009:81f::200e"])
def test_public_addresses_are(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/hook",
        "https://[::1]:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",  # a name resolving to loopback
        "https://does-not-resolve.invalid/hook",
    ],
)
async def test_endpoints_into_private_networks_are_refused(endpoint: str) -> None:
    with pytest.raises(PrivateEndpoint):
        await check_public(endpoint)


async def test_a_delivery_to_a_now_private_address_is_not_sent() -> None:
    class NoClient:
        async def post(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the request must not be sent")

    sender = WebhookSender(NoClient(), 1.0, guard=check_public)  # type: ignore[arg-type]
    attempt = await sender.send(
        "https://127.0.0.1/hook", (), secret="s", idempotency_key="k", body=b"{}"
    )
    assert not attempt.ok and attempt.error == "private address refused"
