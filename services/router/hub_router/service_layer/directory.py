"""Directory use cases: keep the read model from `directory.services`, search it for a
referral, and let an organisation state its live capacity. One transaction each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hub_common.messaging.topics import Topics
from hub_common.region.directory import read_bundle
from hub_common.region.district_centroids import centroid_of
from hub_router.adapters.unit_of_work import Sessions, Units, units_for
from hub_router.domain.access import Viewer
from hub_router.domain.directory_search import (
    Candidate,
    Capacity,
    CapacityKind,
    SearchCriteria,
    UsualResponse,
    new_capacity,
    reasons,
)
from hub_router.domain.offers import TaskNotVisible


class UnknownDistrict(ValueError):
    """A distance was asked from a district the centroid table does not have."""


class ServiceNotFound(LookupError):
    """No such service in the directory (or, for an organisation, not one it runs)."""


@dataclass(frozen=True)
class Found:
    """A search's answer: each match with its Bundle and reasons, and the usual responses."""

    results: list[tuple[Candidate, dict[str, Any], list[str]]]
    usual: dict[str, UsualResponse]


class DirectoryServices:
    """The router's copy of the community services directory, and its live capacity."""

    def __init__(
        self,
        sessions: Sessions | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        units: Units | None = None,
    ) -> None:
        # The directory's changes publish nothing, so their units of work need no topics.
        self._units = units_for(sessions, Topics(), units)
        self._sessions = sessions  # the read model's tests count its rows directly
        self._clock = clock

    async def apply(self, directory_id: str, bundle: dict[str, Any] | None) -> None:
        """Upsert a service from the compacted topic; a tombstone withdraws it. A value that is
        not a directory Bundle raises ValueError (NotADirectoryEntry): set aside, recorded."""
        async with self._units() as uow:
            if bundle is None:
                await uow.directory.withdraw(directory_id)
                return
            service = read_bundle(bundle)
            if service.id != directory_id:
                raise ValueError(
                    f"HealthcareService.identifier: {service.id!r} is not the key {directory_id!r}"
                )
            await uow.directory.upsert(service, bundle)

    async def referral_district(self, viewer: Viewer, referral_id: str) -> str:
        """The person's postcode district from the referral's routing facts, if the caller may
        see the referral (TaskNotVisible otherwise)."""
        async with self._units() as uow:
            route = await uow.queries.route(viewer, referral_id)
        if not route or not route.get("district"):
            raise TaskNotVisible(referral_id)
        return str(route["district"])

    async def search(self, criteria: SearchCriteria) -> Found:
        """Services meeting every condition, best first, each saying why it matches."""
        if criteria.origin_district and criteria.origin is None:
            origin = centroid_of(criteria.origin_district)
            if origin is None:
                raise UnknownDistrict(criteria.origin_district)
            criteria = replace(criteria, origin=origin)
        async with self._units() as uow:
            found = await uow.directory.search(criteria)
            usual = await uow.directory.usual_responses([c.id for c, _ in found])
        return Found([(c, b, reasons(c, criteria)) for c, b in found], usual)

    async def read(self, service_id: str) -> Found:
        async with self._units() as uow:
            found = await uow.directory.read(service_id)
            if found is None:
                raise ServiceNotFound(service_id)
            usual = await uow.directory.usual_responses([service_id])
        return Found([(found[0], found[1], [])], usual)

    async def set_capacity(
        self, organisation_id: str, service_id: str, kind: CapacityKind, places: int | None
    ) -> Found:
        """An organisation states a service's capacity; only the organisation that runs the
        service may (anyone else: ServiceNotFound, as if it did not exist)."""
        capacity: Capacity = new_capacity(kind, places, self._clock())
        async with self._units() as uow:
            owner = await uow.directory.organisation_of(service_id)
            if owner is None or owner != organisation_id:
                raise ServiceNotFound(service_id)
            await uow.directory.set_capacity(service_id, capacity)
        return await self.read(service_id)
