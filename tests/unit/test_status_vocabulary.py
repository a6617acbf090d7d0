"""No service spells a Task status by hand: they all read `hub_common/fhir/task_status.py`.

Two kinds of hand-spelling are caught in the services' sources (and their migrations):
- a status or business status made of more than one word (`in-progress`, `first-contact-made`),
  anywhere in a string, SQL included: no other vocabulary of the hub uses them;
- a tuple, set, list or dict written out with two or more Task statuses and nothing else (a
  hand-made status set or a label table keyed by status strings).
Single common words (`accepted`, `failed`) are also other vocabularies' words (intake outcomes,
deliveries, onward referrals), so they are not flagged alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hub_common.fhir.task_status import BusinessStatus, TaskStatus

SERVICES = Path(__file__).resolve().parents[2] / "services"
VOCABULARY = SERVICES / "common" / "hub_common" / "fhir" / "task_status.py"

DISTINCTIVE = sorted(v.value for v in [*TaskStatus, *BusinessStatus] if "-" in v.value)
STATUSES = frozenset(s.value for s in TaskStatus)
VOCABULARY_WORDS = STATUSES | {b.value for b in BusinessStatus}

# Other vocabularies that happen to share a word, each with why.
ALLOWED_ELSEWHERE = {
    # A CarePlan goal's achievementStatus (FHIR's goal-achievement code system).
    ("router/hub_router/adapters/fhir_care_plan.py", "in-progress"),
    # A delivery as a FHIR Communication's status (FHIR's event-status), in subject access.
    ("notifier/hub_notifier/adapters/fhir_records.py", "in-progress"),
    # An SLA alert's resolution on hub.alerts names the step that resolved it.
    ("router/hub_router/adapters/alerts.py", "first-contact-made"),
    ("router/hub_router/service_layer/sla.py", "first-contact-made"),
    ("notifier/hub_notifier/domain/alerts.py", "first-contact-made"),
}


def _sources() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if p != VOCABULARY)


def _hand_spelt(path: Path, root: Path = SERVICES) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(root).as_posix()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for word in DISTINCTIVE:
                spelt = node.value == word or f"'{word}'" in node.value
                if spelt and (where, word) not in ALLOWED_ELSEWHERE:
                    found.append(f"{where}:{node.lineno} spells {word!r}")
        elements: list[ast.expr | None] = []
        if isinstance(node, ast.Tuple | ast.Set | ast.List):
            elements = list(node.elts)
        elif isinstance(node, ast.Dict):
            elements = list(node.keys)
        words = [e.value for e in elements if isinstance(e, ast.Constant)]
        if (
            len(words) == len(elements)
            and len(STATUSES.intersection(w for w in words if isinstance(w, str))) >= 2
            and all(isinstance(w, str) and w in VOCABULARY_WORDS for w in words)
        ):
            found.append(f"{where}:{node.lineno} lists statuses {words!r}")
    return found


def test_no_service_spells_a_status_by_hand() -> None:
    found = [line for path in _sources() for line in _hand_spelt(path)]
    assert not found, "use hub_common.fhir.task_status instead:\n" + "\n".join(found)


def test_the_scan_catches_a_hand_made_status_set(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'OPEN = ("accepted", "requested")\n'
        'LABELS = {"completed": "Done", "failed": "Closed"}\n'
        "WHERE = \"status IN ('on-hold')\"\n"
        'OUTCOME = ("accepted", "duplicate", "rejected")\n'  # intake's outcomes: not statuses
    )
    found = _hand_spelt(sample, root=tmp_path)
    assert [line.split(" ", 1)[1].split(" ")[0] for line in found] == ["lists", "lists", "spells"]


def test_each_allowance_is_still_needed() -> None:
    """An allowance whose file no longer spells the word is dead: remove it."""
    for where, word in ALLOWED_ELSEWHERE:
        assert f'"{word}"' in (SERVICES / where).read_text(), (where, word)


def test_pages_and_emails_word_every_status() -> None:
    from hub_notifier.domain.email_text import STATUS_LABELS, STATUS_SENTENCES
    from hub_web.domain.tasks import STATUS_LABELS as PAGE_LABELS
    from hub_web.domain.tasks import STEP_LABELS

    for table in (STATUS_LABELS, STATUS_SENTENCES, PAGE_LABELS):
        assert set(table) == set(TaskStatus)
    assert set(STEP_LABELS) == set(BusinessStatus)


def test_the_web_forms_offer_the_machine_s_moves_in_the_order_of_a_referral_s_life() -> None:
    from hub_web.domain.progress import NEXT_STATUSES

    assert NEXT_STATUSES == {
        "accepted": ("in-progress", "on-hold", "failed", "cancelled"),
        "in-progress": ("on-hold", "failed", "cancelled"),
        "on-hold": ("in-progress", "failed", "cancelled"),
    }


def test_index_predicates_are_written_from_the_vocabulary() -> None:
    from hub_common.fhir.task_status import OPEN, sql_in

    assert sql_in("status", OPEN) == "status IN ('accepted', 'in-progress', 'on-hold', 'requested')"
    assert sql_in("status", OPEN, negate=True).startswith("status NOT IN ('accepted', ")
