"""The router's view of the Task status vocabulary, which lives in the shared package.

The router is the one service that enforces it (check_transition, check_step); the web app and
the notifier read the same module, so a change to the machine is made once.
"""

from hub_common.fhir.task_status import (
    ALLOWED,
    CLOSED,
    CONTACT_MADE,
    NEEDS_REASON,
    OPEN,
    ROUTER_STEPS,
    STEPS,
    WORKER_STEPS,
    WORKING,
    BusinessStatus,
    TaskStatus,
    TransitionRefused,
    check_step,
    check_transition,
    sql_in,
)

__all__ = [
    "ALLOWED",
    "CLOSED",
    "CONTACT_MADE",
    "NEEDS_REASON",
    "OPEN",
    "ROUTER_STEPS",
    "STEPS",
    "WORKER_STEPS",
    "WORKING",
    "BusinessStatus",
    "TaskStatus",
    "TransitionRefused",
    "check_step",
    "check_transition",
    "sql_in",
]
