"""Signing what the hub sends to a referrer's endpoint, so they can trust and date it.

The signature covers `"<timestamp>.<body>"`: a receiver that checks the timestamp is recent
refuses a replayed request, and one that checks the signature refuses a forged or altered one.
"""

from __future__ import annotations

import hashlib
import hmac

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
