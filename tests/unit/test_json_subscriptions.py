"""Registering the hub's JSON consumers: combinations that would break per-key order are
refused when the service starts, not discovered in production."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from hub_common.messaging.subscriptions import Delivery, subscribe_json


async def apply(value: Any, delivery: Delivery) -> None:
    return None


async def apply_batch(batch: list[tuple[Any, Delivery]]) -> None:
    return None


def test_a_consumer_of_tombstones_cannot_take_its_messages_as_a_batch() -> None:
    with pytest.raises(ValueError, match="one by one"):
        subscribe_json(
            KafkaBroker("127.0.0.1:9"),  # never connected: registration only
            topic="linkworkers.directory",
            group_id="router",
            description="directory",
            apply=apply,
            tombstones=True,
            apply_batch=apply_batch,
        )


def test_either_alone_is_accepted() -> None:
    broker = KafkaBroker("127.0.0.1:9")
    common: dict[str, Any] = {"group_id": "router", "description": "d", "apply": apply}
    subscribe_json(broker, topic="a", tombstones=True, **common)
    subscribe_json(broker, topic="b", apply_batch=apply_batch, **common)
    assert len(broker.subscribers) == 2
