"""Which failures a consumer retries (the dependency is the problem) and which it sets aside
(the message is): a PostgreSQL restart must never turn good referrals into dead letters."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, InterfaceError

from hub_common.messaging.failures import (
    HELD_TOO_LONG_ATTEMPTS,
    PermanentError,
    is_transient,
    process_durably,
)


def wrapped(driver_error: Exception, as_: type[DBAPIError] = DBAPIError) -> DBAPIError:
    """What SQLAlchemy raises around an asyncpg error, with the driver's error as its cause."""
    try:
        try:
            raise driver_error
        except Exception as error:
            raise as_("select 1", None, error) from error
    except DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_database_going_away_or_contending_is_retried(driver_error: Exception) -> None:
    assert is_transient(wrapped(driver_error))


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.UndefinedTableError('relation "router.tasks" does not exist'),
        asyncpg.exceptions.UndefinedColumnError('column "offered_on" does not exist'),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table tasks"),
        asyncpg.exceptions.InvalidSchemaNameError('schema "router" does not exist'),
        asyncpg.exceptions.InvalidPasswordError("password authentication failed"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only"),
        asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_deployment_out_of_step_holds_the_message_instead_of_dropping_it(
    driver_error: Exception,
) -> None:
    # A migration not yet run, a revoked grant, a failover to a replica: every message would
    # fail alike, and setting each aside would lose them all.
    assert is_transient(wrapped(driver_error))


@pytest.mark.parametrize(
    "error",
    [
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        wrapped(asyncpg.exceptions.NotNullViolationError("null value in column")),
        wrapped(asyncpg.exceptions.StringDataRightTruncationError("value too long")),
        wrapped(asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted")),
        wrapped(asyncpg.exceptions.NumericValueOutOfRangeError("out of range")),
        PermanentError("bad input"),
        ValueError("not a date"),
    ],
    ids=lambda e: type(e.__cause__ or e).__name__,
)
def test_an_error_the_message_causes_is_not_retried(error: Exception) -> None:
    assert not is_transient(error)


async def test_a_retry_names_the_sqlstate_for_the_operator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = []

    async def work() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise wrapped(asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'))

    async def never(error: Exception) -> None:
        raise AssertionError(f"set aside: {error!r}")

    with caplog.at_level(logging.WARNING):
        await process_durably(work, never, what="event on a topic")
    assert len(attempts) == 2
    assert "(SQLSTATE 42P01)" in caplog.text
    assert "does not exist" not in caplog.text  # the message text may quote values: never logged


def test_a_value_asyncpg_refuses_to_send_is_the_messages_fault() -> None:
    # An integer beyond int32, refused by asyncpg before sending: SQLAlchemy reports it as an
    # InterfaceError, which a lost connection also is; it must not hold the partition for good.
    driver = asyncpg.exceptions.DataError("invalid input for query argument $1")
    assert not is_transient(wrapped(driver, as_=InterfaceError))


async def test_a_message_held_for_long_is_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = []

    async def work() -> None:
        attempts.append(1)
        if len(attempts) <= HELD_TOO_LONG_ATTEMPTS:
            raise ConnectionRefusedError(111, "Connection refused")

    async def never(error: Exception) -> None:
        raise AssertionError(f"set aside: {error!r}")

    with caplog.at_level(logging.WARNING):
        await process_durably(work, never, what="event on a topic", max_backoff_seconds=0.0)
    levels = [r.levelno for r in caplog.records if r.name == "hub_common.messaging.failures"]
    assert levels.count(logging.ERROR) == 1 and levels[-1] == logging.ERROR
    assert levels.count(logging.WARNING) == HELD_TOO_LONG_ATTEMPTS - 1
