"""Who may read which referral through the notifier's API.

An agency reads the referrals its own organisation made; a coordinator reads those of people
living in the boroughs they coordinate. Nobody else reads referral content here (operators run
the hub, link workers use the router's API). A referral the caller may not read does not exist
for them: the API answers exactly as it would for an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reader:
    """The scope of one caller: an organisation (`system|value`), or a set of boroughs."""

    organisation: str | None = None
    boroughs: frozenset[str] = frozenset()

    def may_read(self, requester_org: str, borough: str | None) -> bool:
        if self.organisation is not None:
            return requester_org == self.organisation
        return borough is not None and borough in self.boroughs
