"""Who may read which referral through the notifier's API.

An agency reads the referrals its own organisation made; a coordinator reads those of people
living in the boroughs they coordinate; a link worker reads the ServiceRequest (the person's
details, to contact them) of a referral they own and have accepted, and only while it is open.
A worker who is only offered a referral sees its routing facts on the router's API, never the
person; one who declines it, or from whom it is reassigned, loses access with the Task version
that says so. Operators run the hub and read no referrals. A referral the caller may not read
does not exist for them: the API answers exactly as it would for an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_common.fhir.task_status import WORKING

WORKING_STATUSES = tuple(sorted(WORKING))
"""Task statuses in which the owning link worker is working with the person."""


@dataclass(frozen=True)
class Reader:
    """The scope of one caller: an organisation (`system|value`), a set of boroughs, or one
    link worker."""

    organisation: str | None = None
    boroughs: frozenset[str] = frozenset()
    worker: str | None = None

    @property
    def is_referrer(self) -> bool:
        """Referrers see what the hub did (status and step), never the casework itself."""
        return self.organisation is not None

    def may_read(self, requester_org: str, borough: str | None) -> bool:
        if self.organisation is not None:
            return requester_org == self.organisation
        return borough is not None and borough in self.boroughs


def owner_reference(worker_id: str) -> str:
    """How a router Task names its owner (Task.owner.reference)."""
    return f"PractitionerRole/{worker_id}"
