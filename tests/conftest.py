"""Shared fixtures: real Kafka and PostgreSQL for the tests that need them (see support/infra.py),
and a guard that keeps the tests which stop them out of parallel runs (`make test` runs `-n`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from tests.support import stack as stacks
from tests.support.fhir_validator import FhirValidator, running_validator
from tests.support.infra import Infrastructure, infrastructure
from tests.support.stack import IsolatedStack, drop_database, drop_topics, prepare, run_id

# Each test module's database is a copy of one migrated template (tests/support/stack.py).
stacks.REUSE_MIGRATED_TEMPLATE = True

# Hypothesis fails an example slower than 200 ms by default: a timing guess, not a property.
# Parallel workers on a shared two-core machine make any example that slow now and then, so
# the properties run without it; every example and every assertion stays.
settings.register_profile("hub", deadline=None)
settings.load_profile("hub")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that stops Kafka or PostgreSQL would break every test running beside it: refuse
    to start one inside a parallel run, before any of its fixtures (`make test` runs them in a
    second, serial pytest)."""
    if item.get_closest_marker("exclusive") and os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            "this test stops or restarts Kafka or PostgreSQL and must run alone: "
            "run it with `-m exclusive` and without -n"
        )


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    """Kafka and PostgreSQL for the whole run; fails (never skips) when none can be had."""
    with infrastructure() as found:
        try:
            yield found
        finally:
            asyncio.run(stacks.drop_templates())


@pytest.fixture(scope="module")
async def stack(infra: Infrastructure) -> AsyncIterator[IsolatedStack]:
    """A test module's own database (migrated from scratch) and topic namespace; dropped after.

    One per module, so no module sees another's referrals, link workers or events.
    """
    run = run_id()
    prepared = await prepare(infra.kafka_bootstrap_servers, infra.database_url, run)
    try:
        yield prepared
    finally:
        await drop_database(infra.database_url, f"hub_test_{run}")
        await drop_topics(infra.kafka_bootstrap_servers, prepared.topics)


@pytest.fixture(scope="session")
def fhir_validator() -> Iterator[FhirValidator]:
    """HAPI FHIR's validator with the hub's schemas/fhir loaded: one JVM for the whole run,
    built with Maven on first use. Profiles whose package is not loaded (the Subscriptions
    Backport; the hub claims no UK Core profile, docs/bars.md) are warnings until it is."""
    with running_validator(unknown_profiles="warning") as validator:
        yield validator
