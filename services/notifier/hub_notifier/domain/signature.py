"""Signing what the hub sends to a referrer's endpoint, so they can trust and date it.

Two signatures of the same request, with the subscription's secret:
- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
  `"<id>.<timestamp>.<body>"`), which receivers check with any Standard Webhooks library; the
  `standardwebhooks` package signs it here, so the hub and its receivers agree byte for byte;
- the hub's first scheme (`X-Hub-Timestamp`, `X-Hub-Signature: sha256=<hex>` over
  `"<timestamp>.<body>"`), kept for receivers built against it.

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


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value, `v1,<base64 HMAC-SHA256>` of `"<id>.<timestamp>.<body>"`."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return standard_webhook(secret).sign(message_id, moment, body.decode())


def verify_standard(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """What a Standard Webhooks receiver does (the library checks the timestamp is within five
    minutes of now, then the signature in constant time)."""
    try:
        standard_webhook(secret).verify(body.decode(), dict(headers))
    except WebhookVerificationError:
        return False
    return True
