"""What a referrer may see of a referral's Task: what the hub did, not what the person said.

A Task's casework (Task.output: wellbeing scores, the support offered, the worker's summary;
`contained` resources holding them; the routing `input`; notes) is for the link worker, the
coordinators and, through the message back only, the person's GP practice. The referring
agency's system reads status, step and times. Rejection Tasks keep their output: it is the
list of refused fields the agency must correct.
"""

from __future__ import annotations

from typing import Any

from hub_common.fhir.task_outputs import OUTPUT_TYPE_SYSTEM

WITHHELD = ("contained", "input", "note")


def _is_casework(output: dict[str, Any]) -> bool:
    codings = (output.get("type") or {}).get("coding") or []
    return any(coding.get("system") == OUTPUT_TYPE_SYSTEM for coding in codings)


def for_referrer(task: dict[str, Any]) -> dict[str, Any]:
    """The Task as the referring agency reads it (a copy; the stored one is unchanged)."""
    shown = {key: value for key, value in task.items() if key not in WITHHELD}
    kept = [output for output in task.get("output", []) if not _is_casework(output)]
    if kept:
        shown["output"] = kept
    else:
        shown.pop("output", None)
    return shown
