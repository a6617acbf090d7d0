"""The delivery worker: sends due notifications, many at once, each in its own time limit.

It keeps up to `concurrency` deliveries in flight and claims more as soon as a slot frees up,
so an endpoint that hangs until the timeout occupies one slot and delays nobody else. Each
replica runs one; they share the work through the claim (see adapters/delivery_store.py).

Idle, it sleeps until there is work: a new delivery committed (a kick from this process, or
the deliveries table's NOTIFY from any replica, hub_common.storage.wakeup), or the next
pending delivery falling due (a retry after its backoff, a lease running out), with a slow
fallback poll for a lost notification.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Protocol

from hub_common.jsonio import dumps, loads
from hub_common.observability import tracing
from hub_common.observability.metrics import DEAD_LETTERS, DELIVERIES
from hub_common.storage.wakeup import Wakeup
from hub_notifier.adapters.attempt import Attempt
from hub_notifier.adapters.delivery_store import DEAD, Claimed, DeliveryStore
from hub_notifier.domain.coalescing import coalesce_notifications, coalesced_key
from hub_notifier.service_layer.settling import SettleBatcher

log = logging.getLogger(__name__)

BUSY_RECHECK_SECONDS = 1.0
"""Longest wait, with deliveries in flight, before claiming again (see DeliveryWorker._idle)."""


class Webhook(Protocol):
    async def send(
        self,
        endpoint: str,
        extra_headers: tuple[str, ...],
        *,
        secret: str,
        idempotency_key: str,
        body: bytes,
        previous_secret: str | None = None,
    ) -> Attempt: ...


class Mailer(Protocol):
    async def send(self, recipient: str, message: bytes) -> Attempt: ...


class DeliveryWorker:
    """Claims due deliveries and sends them until cancelled."""

    def __init__(
        self,
        store: DeliveryStore,
        webhook: Webhook,
        mailer: Mailer,
        *,
        concurrency: int,
        timeout_seconds: float,
        lease_seconds: float,
        wakeup: Wakeup,
    ) -> None:
        self._store = store
        # Attempts finishing together are recorded in one transaction (see settling.py).
        self._settler = SettleBatcher(store)
        self._webhook = webhook
        self._mailer = mailer
        self._concurrency = max(1, concurrency)
        self._wakeup = wakeup
        # Longer than any attempt can take (the sender enforces the timeout), so a lease runs
        # out only when its holder has died.
        self._lease = timedelta(seconds=max(lease_seconds, timeout_seconds + 1.0))
        self._in_flight: set[asyncio.Task[None]] = set()

    def kick(self) -> None:
        """New deliveries committed, or a subscription's next one became sendable."""
        self._wakeup.set()

    async def run(self) -> None:
        async with self._wakeup.listening():
            await self._run()

    async def _run(self) -> None:
        backoff = 0.5
        try:
            while True:
                # Cleared before claiming: a kick that lands while we claim is not lost.
                self._wakeup.clear()
                free = self._concurrency - len(self._in_flight)
                try:
                    claimed = await self._store.claim(free, self._lease)
                    backoff = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning(
                        "delivery worker cannot claim (%s); retrying in %.1f s",
                        type(error).__name__,
                        backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                if free > 0 and len(claimed) == free:
                    continue  # there may be more due right now
                await self._idle(look_ahead=not claimed)
        finally:
            for task in self._in_flight:
                task.cancel()
            # A cancelled send keeps its lease: it goes again once the lease runs out.
            await asyncio.gather(*self._in_flight, return_exceptions=True)
            await self._settler.close()

    async def _idle(self, *, look_ahead: bool) -> None:
        """Wait for new work, the next delivery falling due, the fallback poll, or (when
        full) a free slot.

        It looks ahead for the next due time only after a claim that found nothing: after one
        that found some, their settling wakes the worker anyway, and under load the extra
        query would come with nearly every claim. Those may hang until their timeout, though,
        so then it claims again within BUSY_RECHECK_SECONDS at most, and a retry falls due
        that late at worst."""
        if len(self._in_flight) >= self._concurrency:
            await self._wakeup.wait(others=self._in_flight)
            return
        if not look_ahead:
            await self._wakeup.wait(within=BUSY_RECHECK_SECONDS)
            return
        try:
            due_in = await self._store.next_due_in()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the next claim says more, and backs off
            log.warning("delivery worker cannot see what is due (%s)", type(error).__name__)
            due_in = None
        await self._wakeup.wait(within=None if due_in is None else due_in.total_seconds())

    async def _deliver(self, delivery: Claimed) -> None:
        # Within the referral's trace: the webhook POST's span (and these log lines) join it.
        with tracing.resuming("notification deliver", delivery.traceparent):
            await self._deliver_traced(delivery)

    async def _deliver_traced(self, delivery: Claimed) -> None:
        try:
            attempt = await self._send(delivery)
            status = await self._settler.settle(delivery, attempt)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Settling failed (PostgreSQL away): the lease expires and it is sent again.
            log.warning("delivery %s unsettled: %s", delivery.delivery_id, type(error).__name__)
            return
        # Settled (committed): counted once, by result.
        result = "dead" if status == DEAD else "delivered" if attempt.ok else "failed"
        DELIVERIES.labels(channel=delivery.channel, result=result).inc()
        if status == DEAD:
            DEAD_LETTERS.labels(channel=delivery.channel).inc()
        if status == DEAD:
            log.error(
                "delivery %s (subscription %s, %d events) dead-lettered after %d attempts: %s",
                delivery.delivery_id,
                delivery.subscription_id or "-",
                len(delivery.members),
                delivery.attempts,
                attempt.error,
            )
        elif not attempt.ok:
            log.info(
                "delivery %s (%d events) attempt %d failed: %s",
                delivery.delivery_id,
                len(delivery.members),
                delivery.attempts,
                attempt.error,
            )
        # Settled: this subscription's next delivery may go now.
        self.kick()

    async def _send(self, delivery: Claimed) -> Attempt:
        if delivery.channel == "email":
            if not delivery.target:
                return Attempt(False, "no recipient")
            return await self._mailer.send(delivery.target, delivery.body)
        if not delivery.endpoint:
            return Attempt(False, "subscription has no endpoint")
        key, body = notification_request(delivery)
        return await self._webhook.send(
            delivery.endpoint,
            delivery.headers,
            secret=delivery.secret,
            previous_secret=delivery.previous_secret,
            idempotency_key=key,
            body=body,
        )


def notification_request(delivery: Claimed) -> tuple[str, bytes]:
    """The Idempotency-Key and body of the request carrying `delivery` and its coalesced
    followers: a lone delivery as it was frozen, several as one Bundle (coalescing.py)."""
    if not delivery.coalesced:
        return delivery.delivery_id, delivery.body
    key = coalesced_key([member.delivery_id for member in delivery.members])
    bundle = coalesce_notifications([loads(member.body) for member in delivery.members], key)
    return key, dumps(bundle)
