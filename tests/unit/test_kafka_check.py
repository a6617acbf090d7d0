"""Readiness asks Kafka for the metadata of no topic: as telling as all of them, and cheap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faststream.exceptions import IncorrectState

from hub_common.http.health import kafka_check


class Admin:
    def __init__(self, *failures: Exception) -> None:
        self.asked: list[list[str] | None] = []
        self._failures = list(failures)

    async def describe_topics(self, topics: list[str] | None = None) -> list[Any]:
        self.asked.append(topics)
        if self._failures:
            raise self._failures.pop(0)
        return []


class Config:
    def __init__(self, admin: Admin | None) -> None:
        self._admin = admin

    @property
    def admin_client(self) -> Admin:
        if self._admin is None:
            raise IncorrectState("Admin client is not initialized. Call connect() first.")
        return self._admin


def broker(admin: Admin | None) -> Any:
    return SimpleNamespace(config=Config(admin))


async def test_kafka_is_ready_when_it_answers_a_request_for_no_topic() -> None:
    admin = Admin()
    assert await kafka_check(broker(admin))()
    # Not None: that would ask for every topic in the cluster.
    assert admin.asked == [[]]


async def test_kafka_is_asked_again_until_it_answers() -> None:
    admin = Admin(ConnectionError(), ConnectionError())
    assert await kafka_check(broker(admin), timeout=1.0)()
    assert admin.asked == [[], [], []]


async def test_kafka_that_never_answers_is_not_ready_after_the_timeout() -> None:
    admin = Admin(*[ConnectionError()] * 1000)
    started = asyncio.get_running_loop().time()
    assert not await kafka_check(broker(admin), timeout=0.3)()
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_broker_never_started_is_not_ready() -> None:
    assert not await kafka_check(broker(None))()
