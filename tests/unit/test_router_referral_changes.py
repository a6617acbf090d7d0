"""A referrer's later ServiceRequest versions (BaRS cancel and amend) as the router reads them."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub_common.fhir.refs import resource_version
from hub_router.adapters.task_repository import StoredTask, snapshot_of
from hub_router.domain.offers import ReferralTask
from hub_router.domain.task_status import TaskStatus as S
from hub_router.domain.task_status import TransitionRefused
from hub_router.service_layer.referral_changes import ReferralChanges, is_change
from tests.support.fhir_corpus import _stored, service_requests

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def offered() -> tuple[dict[str, Any], StoredTask]:
    request = dict(service_requests())["ServiceRequest/community-0"]
    stored = _stored(request)
    return request, replace(stored, task=stored.task.offer("lw-1", AT + timedelta(days=2)))


def test_only_later_versions_and_revocations_are_changes() -> None:
    request, _ = offered()
    assert resource_version(request) == 1 and not is_change(request)
    assert is_change({**request, "meta": {"versionId": "2"}})
    assert is_change({**request, "status": "revoked"})
    assert resource_version({**request, "meta": {}}) == 1  # published before versions
    assert not is_change("not a resource")


def test_an_amendment_keeps_the_worker_and_says_which_version() -> None:
    request, stored = offered()
    amended = {**request, "meta": {"versionId": "2"}, "reasonCode": [{"text": "debts"}]}
    after, event = ReferralChanges._changed(stored, amended, 2)
    assert event == "referral amended by the referrer"
    assert after.task.version == stored.task.version + 1
    assert (after.task.owner, after.task.status) == ("lw-1", S.REQUESTED)
    assert after.facts["referralVersion"] == 2
    snapshot = snapshot_of(after, AT)
    assert snapshot["note"][0]["text"].endswith("ServiceRequest version 2")


def test_a_cancellation_cancels_the_task_with_a_reason() -> None:
    request, stored = offered()
    after, _ = ReferralChanges._changed(stored, {**request, "status": "revoked"}, 2)
    assert after.task.status is S.CANCELLED
    assert "cancelled by the referrer" in (after.task.status_reason or "")
    assert after.task.offered_to is None


def test_a_closed_referral_is_neither_amended_nor_cancelled() -> None:
    task = ReferralTask("r1", status=S.COMPLETED, version=5)
    with pytest.raises(TransitionRefused):
        task.amend()
    with pytest.raises(TransitionRefused):
        task.cancel_for_referrer("too late")
