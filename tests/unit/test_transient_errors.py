"""Which failures a consumer retries (the dependency is the problem) and which it sets aside
(the message is): a PostgreSQL restart must never turn good referrals into dead letters."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from hub_common.consumer import PermanentError, is_transient


def wrapped(driver_error: Exception) -> DBAPIError:
    """What SQLAlchemy raises around an asyncpg error, with the driver's error as its cause."""
    try:
        try:
            raise driver_error
        except Exception as error:
            raise DBAPIError("select 1", None, error) from error
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
    "error",
    [
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        wrapped(asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted")),
        wrapped(asyncpg.exceptions.NumericValueOutOfRangeError("out of range")),
        PermanentError("bad input"),
        ValueError("not a date"),
    ],
    ids=lambda e: type(e.__cause__ or e).__name__,
)
def test_an_error_the_message_causes_is_not_retried(error: Exception) -> None:
    assert not is_transient(error)
