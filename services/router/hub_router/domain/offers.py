"""A referral's Task as the router holds it, and every change people can make to it. Pure.

The router offers a referral to one link worker at a time (Task `requested`, owner set,
businessStatus `offered`). The worker accepts (`accepted`, `allocated`) or declines. A decline,
or an offer left unanswered past its deadline, is a failed offer: the referral goes back to
routing, which skips everyone offered it before. After `max_failed_offers` failures, or when
nobody eligible is left, it waits for a coordinator (`awaiting-allocation`, no owner).
Once accepted, the owner moves the Task through the status machine (`task_status.py`).

Every change returns a new ReferralTask whose `version` is one higher, because every change is
published as a new Task snapshot whose `meta.versionId` must rise by exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub_common.fhir.task_outputs import Outcomes
from hub_router.domain.model import LinkWorker
from hub_router.domain.task_status import (
    OPEN,
    ROUTER_STEPS,
    STEPS,
    WORKER_STEPS,
    BusinessStatus,
    TaskStatus,
    TransitionRefused,
    check_step,
    check_transition,
)

S = TaskStatus
B = BusinessStatus


class TaskNotVisible(LookupError):
    """The caller neither holds nor coordinates this Task: to them it does not exist."""


class ProcessingRestricted(TransitionRefused):
    """The person has had the processing of their data restricted (UK GDPR article 18): their
    referral is kept as it is, and nobody works on it, until the restriction is lifted."""

    def __init__(self, referral_id: str) -> None:
        super().__init__(
            f"referral {referral_id}: processing of this person's data is restricted; "
            "nothing about it can change until an operator lifts the restriction"
        )


class OfferNotOpen(TransitionRefused):
    """The offer was already answered, withdrawn or timed out."""


@dataclass(frozen=True)
class OfferTimeout:
    """How long a link worker has to answer an offer: two of their own working days by default.

    Counting the worker's working days (not calendar days) stops a part-timer's offers expiring
    on their days off; `seconds`, when set, replaces it (tests, demonstrations).
    """

    working_days: int = 2
    seconds: float | None = None

    def deadline(self, offered_at: datetime, worker: LinkWorker | None) -> datetime:
        if self.seconds is not None:
            return offered_at + timedelta(seconds=self.seconds)
        counted = 0
        for ahead in range(1, 366):
            day = offered_at.date() + timedelta(days=ahead)
            if worker is not None and worker.available_on(day):
                counted += 1
                if counted >= self.working_days:
                    return offered_at + timedelta(days=ahead)
        # Nobody to count working days for (or they never work): fall back to calendar days.
        return offered_at + timedelta(days=self.working_days)


@dataclass(frozen=True)
class ReferralTask:
    """Who holds a referral, where its Task stands, and who has been offered it so far."""

    referral_id: str
    status: TaskStatus = S.REQUESTED
    business_status: BusinessStatus = B.AWAITING_ALLOCATION
    owner: str | None = None
    version: int = 0  # 0: never published
    offers: tuple[str, ...] = ()  # every worker offered it, in order (manual offers too)
    failed_offers: int = 0  # declined or unanswered
    offer_expires_at: datetime | None = None
    status_reason: str | None = None
    outputs: Outcomes | None = None  # what came of it: measures, support offered, a summary

    @property
    def offered_to(self) -> str | None:
        """The worker who may accept or decline right now, if any."""
        if self.status is S.REQUESTED and self.business_status is B.OFFERED:
            return self.owner
        return None

    def needs_coordinator(self, max_failed_offers: int) -> bool:
        return self.failed_offers >= max_failed_offers

    def offer(self, worker_id: str, expires_at: datetime) -> ReferralTask:
        """Offer the referral to `worker_id` until `expires_at`."""
        if self.status is not S.REQUESTED or self.offered_to is not None:
            raise TransitionRefused(
                f"only a requested Task nobody is offered can be offered (it is {self.status}, "
                f"{self.business_status})"
            )
        return replace(
            self,
            business_status=B.OFFERED,
            owner=worker_id,
            offers=(*self.offers, worker_id),
            offer_expires_at=expires_at,
            status_reason=None,
            version=self.version + 1,
        )

    def wait_for_coordinator(self) -> ReferralTask:
        """Nobody (else) can be offered it: a coordinator must allocate it."""
        if self.status is not S.REQUESTED or self.offered_to is not None:
            raise TransitionRefused("only a requested Task nobody is offered can wait")
        return replace(
            self,
            business_status=B.AWAITING_ALLOCATION,
            owner=None,
            offer_expires_at=None,
            version=self.version + 1,
        )

    def accept(self, worker_id: str) -> ReferralTask:
        """The offered worker takes the referral on."""
        self._check_offered_to(worker_id)
        return replace(
            self,
            status=S.ACCEPTED,
            business_status=B.ALLOCATED,
            offer_expires_at=None,
            version=self.version + 1,
        )

    def give_back(self, worker_id: str, reason: str | None) -> ReferralTask:
        """The offer failed (declined with `reason`, or unanswered): back to routing.

        Not a published change by itself: the next offer, or the wait for a coordinator, is.
        """
        self._check_offered_to(worker_id)
        if not (reason and reason.strip()):
            raise TransitionRefused("declining an offer needs a reason")
        return replace(
            self,
            owner=None,
            business_status=B.AWAITING_ALLOCATION,
            offer_expires_at=None,
            failed_offers=self.failed_offers + 1,
        )

    def withdraw_offer(self) -> ReferralTask:
        """A coordinator takes the referral back to offer it by hand (not a failed offer)."""
        if self.status is not S.REQUESTED:
            raise TransitionRefused(
                f"only a requested Task can be assigned by hand (this one is {self.status})"
            )
        return replace(
            self, owner=None, business_status=B.AWAITING_ALLOCATION, offer_expires_at=None
        )

    def cancel_for_referrer(self, reason: str | None) -> ReferralTask:
        """The referrer withdraws the referral while it is still open (offered, waiting,
        accepted, in progress or on hold): it leaves any offer and the worker's caseload."""
        check_transition(self.status, S.CANCELLED, reason)
        return replace(
            self,
            status=S.CANCELLED,
            offer_expires_at=None,
            status_reason=(reason or "").strip(),
            version=self.version + 1,
        )

    def amend(self) -> ReferralTask:
        """The referrer sent a new version of an open referral: the Task stays where it is,
        with whoever holds it, and is published again so its holder sees the change."""
        if self.status not in OPEN:
            raise TransitionRefused(f"a {self.status} referral can no longer be amended")
        return replace(self, version=self.version + 1)

    def change_status(
        self,
        worker_id: str,
        status: TaskStatus | None,
        step: BusinessStatus | None,
        reason: str | None,
        outputs: Outcomes | None,
    ) -> ReferralTask:
        """The owner records progress: a new status, a new businessStatus step, or both."""
        if self.owner != worker_id:
            raise TaskNotVisible(self.referral_id)
        if self.status is S.REQUESTED:
            raise TransitionRefused(
                "an offer is answered with $accept or $decline, not with a status change"
            )
        new_status = status or self.status
        if new_status is not self.status:
            check_transition(self.status, new_status, reason)
        elif step is None or step is self.business_status:
            raise TransitionRefused(f"the Task is already {self.status}, {self.business_status}")
        if step is None:
            if self.business_status not in STEPS[new_status]:
                choices = ", ".join(sorted(STEPS[new_status] & WORKER_STEPS))
                raise TransitionRefused(
                    f"a Task moving to {new_status} needs a businessStatus; one of: {choices}"
                )
            step = self.business_status
        if step in ROUTER_STEPS:
            raise TransitionRefused(f"businessStatus {step} is set by the router only")
        check_step(new_status, step)
        if outputs is not None and outputs.is_empty:
            outputs = None  # nothing recorded: keep what was
        if new_status is S.COMPLETED and not (outputs or self.outputs):
            raise TransitionRefused(
                "completing a Task needs outputs: an outcome, a wellbeing measure or the "
                "support offered"
            )
        new_reason = reason.strip() if reason and reason.strip() else None
        return replace(
            self,
            status=new_status,
            business_status=step,
            status_reason=new_reason
            if new_status is not self.status
            else (new_reason or self.status_reason),
            outputs=outputs or self.outputs,
            version=self.version + 1,
        )

    def _check_offered_to(self, worker_id: str) -> None:
        if self.owner != worker_id:
            raise TaskNotVisible(self.referral_id)
        if self.offered_to != worker_id:
            raise OfferNotOpen(
                f"there is no open offer to answer: the Task is {self.status}, "
                f"{self.business_status}"
            )
