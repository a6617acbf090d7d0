"""How every consumer treats failure: retry what may pass later, set aside what never will.

A handler's offsets are committed once it returns (hub_common.messaging.consuming), and a later batch's
commit moves past a handler that raised, so handlers must never raise: a transient fault
(PostgreSQL or Kafka down) is retried here with backoff, holding the partition until the
dependency is back; a permanent one (bad input, a bug tripped by this message) is handed to
`on_poison`, which records it durably, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from hub_common.observability.metrics import MESSAGES_RETRIED

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """This message can never be processed as it is; retrying would not help."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    OperationalError,
    InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


# SQLSTATEs that say "the database, not this message, is the problem", so the message waits
# (holding its partition) instead of being set aside for good:
# - connection exceptions (08), insufficient resources (53), operator intervention (57P:
#   shutting down, starting up);
# - serialization failures and deadlocks (40001, 40P01), which pass when retried;
# - a deployment out of step with the code: a missing table, column or function, or a missing
#   privilege (42: the statement's text and the schema, never the values, which travel as
#   parameters), a missing schema or database (3F000, 3D000), refused credentials (28);
# - a read-only server, as after a failover to a replica (25006), or a lock wait timing out
#   (55P03).
# Skipping on any of these would drop every message until someone noticed.
TRANSIENT_SQLSTATES = (
    "08",
    "53",
    "57P",
    "40001",
    "40P01",
    "42",
    "3F000",
    "3D000",
    "28",
    "25006",
    "55P03",
)


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of the database error in `error`'s chain, if there is one: SQLAlchemy wraps
    asyncpg's error, and a refused connection while PostgreSQL starts up
    (`CannotConnectNowError`) arrives as a plain DBAPIError."""
    for link in _chain(error):
        sqlstate = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and the errors behind it: SQLAlchemy's, its driver adapter's, asyncpg's."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < 10:  # chains are short, and must never loop
        chain.append(seen)
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return chain


def is_transient(error: BaseException) -> bool:
    """Whether `error` may pass when retried: a dependency is down or out of step."""
    chain = _chain(error)
    # asyncpg refusing a value before sending it (an integer beyond int32, say) is the
    # message's fault, though SQLAlchemy reports it as an InterfaceError, which is otherwise
    # a connection's: retried, the message would hold its partition for good.
    if any(isinstance(link, asyncpg.exceptions.DataError) for link in chain):
        return False
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if any(isinstance(link, TRANSIENT_ERRORS) for link in chain):
        return True
    sqlstate = sqlstate_of(error)
    return sqlstate is not None and sqlstate.startswith(TRANSIENT_SQLSTATES)


HELD_TOO_LONG_ATTEMPTS = 12
"""Retries (about three minutes of backoff) after which a held message is logged as an error."""


async def process_durably(
    work: Callable[[], Awaitable[None]],
    on_poison: Callable[[Exception], Awaitable[None]],
    *,
    what: str,
    topic: str = "",
    max_backoff_seconds: float = 30.0,
) -> None:
    """Run `work` until it succeeds or proves permanent; never raises except on cancellation.

    Each retry counts under `topic` (hub_common.observability.metrics); `on_poison` counts what it sets
    aside, since a batch's `on_poison` may retry its messages one by one."""
    backoff = 0.2
    attempts = 0
    while True:
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if is_transient(error):
                attempts += 1
                MESSAGES_RETRIED.labels(topic=topic).inc()
                # Held this long, it is no blip: loud enough for an alert (a partition waits).
                log.log(
                    logging.ERROR if attempts >= HELD_TOO_LONG_ATTEMPTS else logging.WARNING,
                    "%s: transient %s%s, attempt %d, retrying in %.1f s",
                    what,
                    type(error).__name__,
                    f" (SQLSTATE {sqlstate})" if (sqlstate := sqlstate_of(error)) else "",
                    attempts,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff_seconds)
                continue
            if not isinstance(error, PermanentError):
                # No traceback text: exception messages can quote personal data from the payload.
                log.error(
                    "%s: unexpected %s at %s, setting the message aside",
                    what,
                    type(error).__name__,
                    _where(error),
                )
            await process_durably(
                functools.partial(on_poison, error),
                _cannot_record,
                what=f"{what} (dead letter)",
                topic=topic,
            )
            return


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


async def _cannot_record(error: Exception) -> None:
    # Recording a poison message failed permanently too: nothing left but to say so loudly.
    log.error("could not record a poison message: %s", type(error).__name__)
