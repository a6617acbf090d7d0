"""Outcomes as the router's `$update-status` takes them (`outputs`: outcome, measures,
supportOffered); the router's `OutputsBody` reads this shape back into the same Outcomes."""

from __future__ import annotations

from typing import Any

from hub_common.fhir.task_outputs import Outcomes


def outputs_body(outcomes: Outcomes) -> dict[str, Any]:
    """The `outputs` member of a status change: everything recorded so far, since it replaces
    the Task's outputs as a whole."""
    body: dict[str, Any] = {
        "measures": [
            {
                "instrument": m.instrument.value,
                "when": m.when.value,
                "takenAt": m.taken_at.isoformat(),
                "answers": dict(m.answers),
            }
            for m in outcomes.measures
        ],
        "supportOffered": [
            {
                "need": s.need.value,
                "kind": s.kind.value,
                "service": s.service,
                **({"serviceId": s.service_id} if s.service_id else {}),
            }
            for s in outcomes.support
        ],
    }
    if outcomes.summary:
        body["outcome"] = outcomes.summary
    return body
