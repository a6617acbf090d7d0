"""Who may see which referral: a link worker their own Tasks, a coordinator their boroughs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """The scope of one caller: a worker id, or the boroughs a coordinator covers."""

    worker_id: str | None = None
    boroughs: frozenset[str] = frozenset()

    def can_see(self, owner: str | None, borough: str | None) -> bool:
        # A link worker sees a Task only while they hold it or are offered it: once they
        # decline, or their offer times out, it is someone else's and no longer theirs to read.
        if self.worker_id is not None:
            return owner == self.worker_id
        return borough is not None and borough in self.boroughs
