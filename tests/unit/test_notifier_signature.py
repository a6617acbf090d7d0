"""Signing deliveries: what a referrer's receiver checks."""

import hashlib
import hmac

from hub_notifier.adapters.webhook import request_headers
from hub_notifier.domain.signature import sign, signed_payload, verify

SECRET = "per-subscription-secret"
BODY = b'{"resourceType":"Bundle"}'


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1767225600, BODY) == f"sha256={expected}"
    assert signed_payload(1767225600, BODY) == b"1767225600." + BODY


def test_a_receiver_accepts_a_fresh_genuine_request() -> None:
    signature = sign(SECRET, 1000, BODY)
    assert verify(SECRET, 1000, BODY, signature, now=1010)


def test_a_receiver_refuses_altered_body_wrong_secret_or_moved_timestamp() -> None:
    signature = sign(SECRET, 1000, BODY)
    assert not verify(SECRET, 1000, BODY + b" ", signature, now=1000)
    assert not verify("another-secret", 1000, BODY, signature, now=1000)
    assert not verify(SECRET, 1001, BODY, signature, now=1000)


def test_a_receiver_refuses_a_replay_outside_the_tolerance() -> None:
    signature = sign(SECRET, 1000, BODY)
    assert not verify(SECRET, 1000, BODY, signature, now=1000 + 301)


def test_subscription_headers_cannot_override_the_hubs_own() -> None:
    headers = request_headers(
        ["Authorization: Bearer theirs", "X-Hub-Signature: forged"],
        secret=SECRET,
        idempotency_key="delivery-1",
        timestamp=1000,
        body=BODY,
    )
    assert headers["Authorization"] == "Bearer theirs"
    assert headers["X-Hub-Signature"] == sign(SECRET, 1000, BODY)
    assert headers["Idempotency-Key"] == "delivery-1"
    assert headers["X-Hub-Timestamp"] == "1000"
    assert headers["Content-Type"] == "application/fhir+json"
