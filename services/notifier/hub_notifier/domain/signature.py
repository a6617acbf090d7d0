"""Signing what the hub sends to a referrer's endpoint, so they can trust and date it.

Two signatures of the same request, with the subscription's secret:
- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
  `"<id>.<timestamp>.<body>"`), which receivers check with any Standard Webhooks library; the
  `standardwebhooks` package signs it here, so the hub and its receivers agree byte for byte;
- the hub's first scheme (`X-Hub-Timestamp`, `X-Hub-Signature: sha256=<hex>` over
  `"<timestamp>.<body>"`), kept for receivers built against it.

During a rotation (`$rotate-secret`) the Standard Webhooks header carries a signature with the
old secret too, until the rotation's grace period ends; `X-Hub-Signature` has room for one, so
it is always the new secret's.

Either way a receiver that checks the timestamp is recent refuses a replayed request, and one
that checks the signature refuses a forged or altered one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

SCHEME = "sha256"


def signed_payload(timestamp: int, body: bytes) -> bytes:
    """The exact bytes the signature covers."""
    return f"{timestamp}.".encode() + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Hub-Signature` value: `sha256=<hex HMAC-SHA256>` of timestamp and body."""
    digest = hmac.new(secret.encode(), signed_payload(timestamp, body), hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify(
    secret: str,
    timestamp: int,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_seconds: float = 300.0,
) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature (compared in constant
    time, so the comparison leaks nothing about the expected value)."""
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def standard_webhook(secret: str) -> Webhook:
    """The subscription's secret as a Standard Webhooks key: its bytes as they are (the hub's
    secrets are not base64, so no `whsec_` decoding)."""
    return Webhook(secret.encode())


def standard_signature(
    secret: str,
    message_id: str,
    timestamp: int,
    body: bytes,
    *,
    previous_secret: str | None = None,
) -> str:
    """The `webhook-signature` value, `v1,<base64 HMAC-SHA256>` of `"<id>.<timestamp>.<body>"`.

    During a secret rotation the old secret signs too, and the value lists both, space
    separated, the new one first: Standard Webhooks receivers accept a request when any listed
    signature matches, so a receiver still holding the old secret keeps working until it
    switches."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    signatures = [standard_webhook(secret).sign(message_id, moment, body.decode())]
    if previous_secret:
        signatures.append(standard_webhook(previous_secret).sign(message_id, moment, body.decode()))
    return " ".join(signatures)


def verify_standard(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """What a Standard Webhooks receiver does (the library checks the timestamp is within five
    minutes of now, then the signature in constant time)."""
    try:
        standard_webhook(secret).verify(body.decode(), dict(headers))
    except WebhookVerificationError:
        return False
    return True
