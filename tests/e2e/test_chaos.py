"""Chaos: thousands of referrals in every agency format, good and bad, while every service is
SIGKILLed at random moments and restarted, and Kafka and PostgreSQL are restarted under the
running hub. Link workers accept offers throughout; every agency has a webhook subscription.

Afterwards, the hub's promises hold:
- every accepted referral exists exactly once (one hub id, whatever was republished);
- every refused input is on referrals.rejected, once;
- every referral has exactly one current owner, or waits for a coordinator with a reason;
  its Task versions are 1, 2, ... with no gap and no two different versions n;
- no link worker is ever over either limit (sampled while it runs, and at the end);
- every referrer heard every status: each subscription's event numbers run 1..N with no gap
  (a duplicate only ever repeats an event number), one event per Task version;
- nothing is left in any outbox and no notification is dead.

The seed (CHAOS_SEED, default below) decides the fault order and moments; it is printed.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from hub_notifier.adapters.requester import (
    referrer_reference,
)
from tests.support.chaos import (
    Acceptor,
    Load,
    faults,
    roster,
    wave,
    write_roster,
)
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
from tests.support.infra import Infrastructure, free_port
from tests.support.notifier_setup import eventually
from tests.support.outages import require_local
from tests.support.processes import ServiceProcess, run_cli
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import IsolatedStack
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.infra, pytest.mark.exclusive]

SEED = int(os.environ.get("CHAOS_SEED", "20261123"))
PER_SOURCE = 40  # per wave: 40 of each format (housing files hold two) = 240 referrals


@pytest.mark.timeout(900)
async def test_the_hub_keeps_its_promises_through_kills_and_restarts(
    infra: Infrastructure, stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    require_local(infra)
    rng = random.Random(SEED)
    logs: Path = tmp_path_factory.mktemp("chaos")
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
    services = {name: ServiceProcess(name, env, logs) for name in ("intake", "router", "notifier")}
    services["notifier"].env["NOTIFIER_PUBLIC_URL"] = services["notifier"].url
    engine = create_async_engine(stack.database_url, pool_pre_ping=True)
    stop, violations = asyncio.Event(), []
    try:
        for process in services.values():
            await asyncio.to_thread(process.start)
        paths = await warm_up_and_subscribe(
            stack, engine, services["notifier"], receiver, interval=1.0
        )

        tight = [w.worker_id for w in roster() if w.max_caseload < 100]
        acceptor = Acceptor(
            services["router"],
            stack.auth_secret,
            tight,
            lambda task: "-X" in str(referrer_reference(task) or ""),
        )
        background = [
            asyncio.create_task(acceptor.run(stop)),
            asyncio.create_task(watch_limits(engine, stop, violations)),
        ]

        plan = faults(rng)
        expected = Load()
        for number in range(len(plan) + 1):
            load = wave(number, PER_SOURCE)
            expected.accepted |= load.accepted
            expected.refused |= load.refused
            expected.poison += load.poison
            await publish_load(stack, load)
            if number < len(plan):
                await asyncio.sleep(rng.uniform(0.2, 2.5))  # the fault lands mid-stream
                print(f"\nchaos: wave {number}: {plan[number].name}")
                await plan[number].inject(services, rng)
        total = len(expected.accepted) + 6

        await eventually(
            lambda: scalar(engine, f"select count(*) = {total} from router.tasks"),
            timeout=240,
            what=f"{total} referrals routed",
            interval=1.0,
        )
        await asyncio.sleep(2.0)  # the last offers reach the acceptor
        stop.set()
        await background[0]
        samples = await background[1]
        await wait_until_settled(engine, timeouts=(120, 120, 180), interval=1.0)

        # 1. Every accepted referral exists exactly once.
        published = await check_published_once(stack, engine, expected.accepted, total)

        # 2. Every refused input is on referrals.rejected, once.
        rejections = await check_rejected_once(stack, expected.rejected_inputs)

        # 3. One current owner per referral; versions without gaps or forks.
        current = await current_tasks(engine)
        unowned = [
            r
            for r in current.values()
            if r.owner is None and r.business_status != "awaiting-allocation"
        ]
        assert not unowned, f"referrals with no owner and not waiting: {unowned[:3]}"
        await check_task_histories(stack, current)

        # 4. No worker over either limit, at any sampled moment or at the end.
        tight = [w.worker_id for w in roster() if w.max_caseload < 100]
        tight_held = await check_limits_held(engine, violations, tight)

        # 5. An outage is answered 503 (try again), never 500.
        assert not {code for code in acceptor.answers if code >= 500} - {503}, acceptor.answers

        # 6. Every referrer heard every status, numbered without gaps.
        notified, copies = await check_every_change_heard(
            engine, receiver, paths, current, published, rejections
        )

        kills = sum(len(f.kill) for f in plan)
        restarts = sum(1 for f in plan if f.restart)
        print(
            f"\nchaos (seed {SEED}): {len(expected.accepted)} referrals accepted and "
            f"{expected.rejected_inputs} refused inputs ({expected.poison} poison) sent; "
            f"0 lost, 0 under a second id, {published.messages - total} republished with the same id; "
            f"faults: {kills} SIGKILLs, {restarts} broker/database restarts; "
            f"{acceptor.accepted} offers accepted over HTTP ({acceptor.refused_by_outage} calls met an outage); "
            f"{notified} events to {len(paths)} webhooks ({copies - notified} duplicate copies), "
            f"{len(smtp.messages)} e-mails; limits sampled {samples} times, 0 exceeded "
            f"(tight workers' open referrals and busiest day: {tight_held})"
        )
    finally:
        stop.set()
        for process in services.values():
            process.stop()
        receiver.stop()
        smtp.stop()
        await engine.dispose()
