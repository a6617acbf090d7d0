"""Every service scaled out: two replicas each of intake, router and notifier (separate
processes, one consumer group per service), referrals of every format flowing, link workers
accepting offers, and one replica of each service SIGKILLed mid-stream, the next wave sent
while it is down (its partitions move to the other replica), then restarted.

Afterwards:
- every accepted referral exists exactly once, and was routed exactly once;
- no link worker is over either limit, sampled while it runs and at the end, and the tight
  workers' limits did bind (so the check proved something);
- every referral's Task versions run 1..n on Kafka with no fork;
- every referrer heard every change, each subscription's event numbers 1..N with no gap and
  no number standing for two changes; nothing dead, nothing left in any outbox;
- both replicas of each service did some of the work.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from hub_notifier.adapters.requester import (
    referrer_reference,
)
from tests.support.chaos import Acceptor, Load, roster, wave, write_roster
from tests.support.chaos_checks import (
    check_every_change_heard,
    check_limits_held,
    check_published_once,
    check_rejected_once,
    check_task_histories,
    current_tasks,
    publish_load,
    scalar,
    wait_until_settled,
    warm_up_and_subscribe,
    watch_limits,
)
from tests.support.infra import free_port
from tests.support.notifier_setup import eventually
from tests.support.processes import ServiceProcess, run_cli
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.infra

SEED = 20261203
PER_SOURCE = 15  # per wave: 15 of each format (housing files hold two) = 90 referrals
SERVICES = ("intake", "router", "notifier")
# What each service logs when it has done some work (ids and counts only).
WORK_LINE = {
    "intake": "accepted from",
    "router": "routed a batch of",
    "notifier": "Task versions recorded",
}


@pytest.mark.timeout(900)
async def test_two_replicas_of_every_service_survive_a_kill_each(
    stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    logs: Path = tmp_path_factory.mktemp("scaled-out")
    run_cli(stack.env(), "workers", "load", str(write_roster(logs)))
    smtp_port = free_port()
    smtp = SmtpSink().start(smtp_port)
    receiver = WebhookReceiver().start()
    env = {
        **stack.env(),
        "NOTIFIER_ALLOW_HTTP_ENDPOINTS": "true",  # the receiver is plain HTTP on loopback
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_DELIVERY_POLL_SECONDS": "0.1",
    }
    replicas = {name: [ServiceProcess(name, env, logs) for _ in range(2)] for name in SERVICES}
    for notifier in replicas["notifier"]:
        notifier.env["NOTIFIER_PUBLIC_URL"] = notifier.url
    everything = [process for pair in replicas.values() for process in pair]
    engine = create_async_engine(stack.database_url, pool_pre_ping=True)
    stop, violations = asyncio.Event(), []
    try:
        # One replica of each service at a time: six interpreters starting at once on two
        # cores kept their consumer groups rebalancing.
        for first_or_second in zip(*replicas.values(), strict=True):
            await asyncio.gather(*(asyncio.to_thread(p.start, 240.0) for p in first_or_second))
        paths = await warm_up_and_subscribe(
            stack, engine, replicas["notifier"][1], receiver, interval=0.5
        )
        ready_at = time.monotonic() - started

        tight = [w.worker_id for w in roster() if w.max_caseload < 100]
        # Offers are accepted through the router replica that is never killed: the kills are
        # about consumers; a refused call during a kill would only be retried.
        acceptor = Acceptor(
            replicas["router"][1],
            stack.auth_secret,
            tight,
            lambda task: "-X" in str(referrer_reference(task) or ""),
        )
        background = [
            asyncio.create_task(acceptor.run(stop)),
            asyncio.create_task(watch_limits(engine, stop, violations)),
        ]

        expected = Load()

        async def send(number: int) -> None:
            load = wave(number, PER_SOURCE)
            expected.accepted |= load.accepted
            expected.refused |= load.refused
            expected.poison += load.poison
            await publish_load(stack, load)

        await send(0)
        for number, name in enumerate(SERVICES, start=1):
            await asyncio.sleep(rng.uniform(0.2, 1.5))  # the kill lands mid-stream
            victim = replicas[name][0]
            victim.kill()
            await send(number)  # the survivor must take the killed replica's partitions
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            await asyncio.to_thread(victim.start, 120.0)
        total = len(expected.accepted) + 6

        await eventually(
            lambda: scalar(engine, f"select count(*) = {total} from router.tasks"),
            timeout=180,
            what=f"{total} referrals routed",
            interval=0.5,
        )
        await asyncio.sleep(2.0)  # the last offers reach the acceptor
        stop.set()
        await background[0]
        samples = await background[1]
        await wait_until_settled(engine, timeouts=(60, 90, 120), interval=0.5)

        # 1. Every accepted referral exists exactly once, and was routed exactly once.
        published = await check_published_once(stack, engine, expected.accepted, total)
        routed_twice = await scalar(
            engine,
            "select count(*) from (select referral_id from router.decisions"
            " where record->'trigger'->>'event' = 'referral received'"
            " group by referral_id having count(*) > 1) twice",
        )
        assert routed_twice == 0, f"{routed_twice} referrals routed more than once"

        # 2. Every refused input is on referrals.rejected, once.
        rejections = await check_rejected_once(stack, expected.rejected_inputs)

        # 3. Task versions without gaps or forks; the latest names the current owner.
        current = await current_tasks(engine)
        await check_task_histories(stack, current)

        # 4. No worker over either limit, at any sampled moment or at the end; limits did bind.
        tight_held = await check_limits_held(engine, violations, tight)

        # 5. Every referrer heard every change, numbered without gaps or duplicates.
        notified, copies = await check_every_change_heard(
            engine, receiver, paths, current, published, rejections
        )

        # 6. Both replicas of each service did some of the work.
        idle = [
            f"{p.name} on port {p.port}"
            for name, pair in replicas.items()
            for p in pair
            if WORK_LINE[name] not in p.log_path.read_text(errors="replace")
        ]
        assert not idle, f"replicas that did no work: {idle}"

        print(
            f"\nscaled out (2 x intake, router, notifier; 3 SIGKILLs): "
            f"{len(expected.accepted)} referrals and {expected.rejected_inputs} refused inputs; "
            f"0 lost, 0 twice; {acceptor.accepted} offers accepted; {notified} webhook events "
            f"({copies - notified} duplicate copies), {len(smtp.messages)} e-mails; limits "
            f"sampled {samples} times, 0 exceeded (tight workers: {tight_held}); ready after "
            f"{ready_at:.0f} s, {time.monotonic() - started:.0f} s in all"
        )
    finally:
        stop.set()
        for process in everything:
            process.stop()
        receiver.stop()
        smtp.stop()
        await engine.dispose()
