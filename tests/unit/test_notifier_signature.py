"""Signing deliveries: what a referrer's receiver checks."""

import base64
import hashlib
import hmac
import time

from standardwebhooks import Webhook

from hub_notifier.adapters.webhook import request_headers
from hub_notifier.domain.signature import (
    sign,
    signed_payload,
    standard_signature,
    verify,
    verify_standard,
)

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


def test_standard_webhooks_receivers_accept_the_hubs_requests() -> None:
    """Checked with the standardwebhooks library's own verifier, as a receiver would."""
    now = int(time.time())
    headers = request_headers(
        [], secret=SECRET, idempotency_key="delivery-7", timestamp=now, body=BODY
    )
    assert headers["webhook-id"] == "delivery-7"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(SECRET.encode()).verify(BODY.decode(), headers)  # raises when it does not verify
    assert verify_standard(SECRET, BODY, headers)


def test_standard_signature_is_base64_hmac_of_id_timestamp_body() -> None:
    digest = hmac.new(SECRET.encode(), b"msg-1.1767225600." + BODY, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert standard_signature(SECRET, "msg-1", 1767225600, BODY) == expected


def test_standard_webhooks_receivers_refuse_forgery_and_replay() -> None:
    now = int(time.time())
    headers = request_headers(
        [], secret=SECRET, idempotency_key="delivery-8", timestamp=now, body=BODY
    )
    assert not verify_standard(SECRET, BODY + b" ", headers)
    assert not verify_standard("another-secret", BODY, headers)
    old = request_headers(
        [], secret=SECRET, idempotency_key="delivery-8", timestamp=now - 3600, body=BODY
    )
    assert not verify_standard(SECRET, BODY, old)


def test_subscription_headers_cannot_forge_standard_ones_in_any_case() -> None:
    headers = request_headers(
        ["Webhook-Signature: v1,forged", "WEBHOOK-ID: theirs", "x-hub-signature: forged"],
        secret=SECRET,
        idempotency_key="delivery-9",
        timestamp=1000,
        body=BODY,
    )
    names = [name.lower() for name in headers]
    assert names.count("webhook-signature") == names.count("webhook-id") == 1
    assert names.count("x-hub-signature") == 1
    assert headers["webhook-signature"] == standard_signature(SECRET, "delivery-9", 1000, BODY)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    headers = request_headers(
        [],
        secret="new-secret",
        previous_secret=SECRET,
        idempotency_key="delivery-10",
        timestamp=int(time.time()),
        body=BODY,
    )
    assert headers["webhook-signature"].count("v1,") == 2
    assert verify_standard("new-secret", BODY, headers)
    assert verify_standard(SECRET, BODY, headers)
    assert not verify_standard("a-third-secret", BODY, headers)
