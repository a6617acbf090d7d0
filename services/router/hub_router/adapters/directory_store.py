"""SQL for the router's read model of the community services directory (orm.directory_services).

Also the small functions other parts of the router call inside their own transaction:

- `take_place(session, service_id)`: when an organisation accepts an onward referral, one of
  the service's free places is taken (in the caller's transaction, so the accept and the place
  commit or roll back together). Returns the places left, or None when the service counts no
  places (waiting list, never stated, or unknown id): nothing to take, and nothing refused.
- `usual_responses(session, service_ids)`: how each service has answered onward referrals,
  read from `router.onward_referrals` (service_layer/onward.py: `status`, `business_status`,
  `record` with `service_id`, `sent_at` and, when recorded, `answered_at`; `updated_at`) when
  that table exists, else {}. Accepted: any decided status but `rejected`; `no-response` is the hub's
  decline at the deadline, counted in the share accepted but not as an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    Text,
    and_,
    cast,
    delete,
    false,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub_common.region.directory import DirectoryService, fhir_id
from hub_common.region.district_centroids import EARTH_RADIUS_KM
from hub_router.adapters import orm
from hub_router.domain.directory_search import (
    Answer,
    Availability,
    Candidate,
    Capacity,
    CapacityKind,
    SearchCriteria,
    UsualResponse,
    usual_response,
)

SERVICES = orm.directory_services
LOCATIONS = orm.directory_locations
TEXT_CONFIG = "english"
# Decided onward referrals of some services. The answer's moment is `record.answered_at` when
# the onward referral recorded it; otherwise `updated_at` while the referral still rests on its
# answer (accepted, or declined by the organisation); later steps moved it, so unknown.
ONWARD_ANSWERS = text(
    "SELECT s.id AS service_id, o.status, o.business_status,"
    " EXTRACT(EPOCH FROM COALESCE("
    "   (o.record->>'answered_at')::timestamptz,"
    "   CASE WHEN o.status IN ('accepted', 'rejected') AND o.business_status <> 'no-response'"
    "        THEN o.updated_at END"
    " ) - (o.record->>'sent_at')::timestamptz) / 86400.0 AS days"
    " FROM router.onward_referrals o"
    " JOIN router.directory_services s ON s.directory_id = o.record->>'service_id'"
    " WHERE s.id = ANY(:ids) AND o.status <> 'requested'"
)


def _array(values: Iterable[str], item: Any = None) -> Any:
    """A text[] parameter (asyncpg needs the array's type to compare with `&&`)."""
    return cast(sorted(values), ARRAY(item or String))


def _terms(service: DirectoryService) -> list[str]:
    """Each taxonomy term as `system|code` and as the code alone (either may be searched)."""
    found: set[str] = set()
    for term in service.terms:
        found.update({f"{term.system}|{term.code}", term.code})
    return sorted(found)


async def upsert(session: AsyncSession, service: DirectoryService, bundle: dict[str, Any]) -> None:
    """Keep the directory's latest word on a service; capacity columns are left as they are."""
    service_id = fhir_id("HealthcareService", service.id)
    values = {
        "id": service_id,
        "directory_id": service.id,
        "name": service.name,
        "description": service.description,
        "organisation_id": service.organisation.id,
        "organisation_name": service.organisation.name,
        "active": not service.temporarily_closed,
        "needs": sorted(n.value for n in service.needs),
        "terms": _terms(service),
        "days": sorted({day for opening in service.openings for day in opening.days}),
        "free": service.free,
        "minimum_age": service.minimum_age,
        "maximum_age": service.maximum_age,
        "bundle": bundle,
        "updated_at": func.now(),
    }
    await session.execute(
        insert(SERVICES).values(values).on_conflict_do_update(index_elements=["id"], set_=values)
    )
    await session.execute(delete(LOCATIONS).where(LOCATIONS.c.service_id == service_id))
    points = [
        {"service_id": service_id, "position": i, "latitude": p.latitude, "longitude": p.longitude}
        for i, p in enumerate(service.places)
        if p.latitude is not None and p.longitude is not None
    ]
    if points:
        await session.execute(insert(LOCATIONS), points)


async def withdraw(session: AsyncSession, directory_id: str) -> None:
    """A tombstone: the service is gone (its locations go with it)."""
    await session.execute(delete(SERVICES).where(SERVICES.c.directory_id == directory_id))


def _distance(origin: tuple[float, float]) -> Any:
    """The km from `origin` to the service's nearest location (haversine), null without any."""
    lat, lon = origin
    rad = func.radians
    h = func.power(func.sin((rad(LOCATIONS.c.latitude) - rad(literal(lat))) / 2), 2) + func.cos(
        rad(literal(lat))
    ) * func.cos(rad(LOCATIONS.c.latitude)) * func.power(
        func.sin((rad(LOCATIONS.c.longitude) - rad(literal(lon))) / 2), 2
    )
    nearest = func.min(2 * EARTH_RADIUS_KM * func.asin(func.sqrt(h)))
    return (
        select(cast(nearest, Float))
        .where(LOCATIONS.c.service_id == SERVICES.c.id)
        .scalar_subquery()
    )


def _availability(state: Availability) -> ColumnElement[bool]:
    places = SERVICES.c.capacity == CapacityKind.PLACES.value
    if state is Availability.AVAILABLE:
        return and_(places, SERVICES.c.places_available > 0)
    if state is Availability.FULL:
        return and_(places, SERVICES.c.places_available <= 0)
    if state is Availability.WAITING_LIST:
        return SERVICES.c.capacity == CapacityKind.WAITING_LIST.value
    return SERVICES.c.capacity.is_(None)


def _capacity(row: Any) -> Capacity:
    kind = CapacityKind(row.capacity) if row.capacity else None
    return Capacity(kind, row.places_available, row.capacity_updated_at)


def candidate_of(row: Any) -> Candidate:
    return Candidate(
        id=row.id,
        needs=frozenset(row.needs),
        terms=frozenset(row.terms),
        days=frozenset(row.days),
        free=row.free,
        minimum_age=row.minimum_age,
        maximum_age=row.maximum_age,
        capacity=_capacity(row),
        distance_km=getattr(row, "distance_km", None),
        text_rank=getattr(row, "text_rank", None),
    )


async def search(
    session: AsyncSession, criteria: SearchCriteria
) -> list[tuple[Candidate, dict[str, Any]]]:
    """Active services meeting every condition asked, best first, with their Bundles: by text
    rank when there is text, then nearest first when there is an origin, then by name."""
    columns: list[Any] = [
        SERVICES.c.id,
        SERVICES.c.needs,
        SERVICES.c.terms,
        SERVICES.c.days,
        SERVICES.c.free,
        SERVICES.c.minimum_age,
        SERVICES.c.maximum_age,
        SERVICES.c.capacity,
        SERVICES.c.places_available,
        SERVICES.c.capacity_updated_at,
        SERVICES.c.bundle,
        SERVICES.c.name,
    ]
    where: list[ColumnElement[bool]] = [SERVICES.c.active]
    if criteria.text:
        query = func.websearch_to_tsquery(TEXT_CONFIG, criteria.text)
        columns.append(func.ts_rank(SERVICES.c.search_vector, query).label("text_rank"))
        where.append(SERVICES.c.search_vector.op("@@")(query))
    if criteria.needs:
        where.append(SERVICES.c.needs.overlap(_array(n.value for n in criteria.needs)))
    if criteria.terms:
        where.append(SERVICES.c.terms.overlap(_array(criteria.terms, Text)))
    if criteria.days:
        where.append(SERVICES.c.days.overlap(_array(criteria.days)))
    if criteria.free is not None:
        where.append(SERVICES.c.free.is_(criteria.free))
    if criteria.age is not None:
        where.append(or_(SERVICES.c.minimum_age.is_(None), SERVICES.c.minimum_age <= criteria.age))
        where.append(or_(SERVICES.c.maximum_age.is_(None), SERVICES.c.maximum_age >= criteria.age))
    if criteria.availability:
        where.append(or_(false(), *(_availability(a) for a in sorted(criteria.availability))))
    if criteria.origin is not None:
        columns.append(_distance(criteria.origin).label("distance_km"))
    found = select(*columns).where(*where).subquery("found")
    outer = select(found)
    order: list[Any] = []
    if criteria.text:
        order.append(found.c.text_rank.desc())
    if criteria.origin is not None:
        if criteria.within_km is not None:
            outer = outer.where(found.c.distance_km <= criteria.within_km)
        order.append(found.c.distance_km.asc().nulls_last())
    order.append(found.c.name)
    rows = (await session.execute(outer.order_by(*order).limit(criteria.limit))).all()
    return [(candidate_of(row), row.bundle) for row in rows]


async def read(session: AsyncSession, service_id: str) -> tuple[Candidate, dict[str, Any]] | None:
    """One service (active or temporarily closed) with its Bundle, or None."""
    row = (await session.execute(select(SERVICES).where(SERVICES.c.id == service_id))).first()
    return None if row is None else (candidate_of(row), row.bundle)


async def organisation_of(session: AsyncSession, service_id: str) -> str | None:
    """The directory organisation id that runs the service, for who may set its capacity."""
    return (
        await session.execute(select(SERVICES.c.organisation_id).where(SERVICES.c.id == service_id))
    ).scalar_one_or_none()


async def set_capacity(session: AsyncSession, service_id: str, capacity: Capacity) -> None:
    await session.execute(
        update(SERVICES)
        .where(SERVICES.c.id == service_id)
        .values(
            capacity=capacity.kind.value if capacity.kind else None,
            places_available=capacity.places,
            capacity_updated_at=capacity.updated_at,
        )
    )


async def take_place(session: AsyncSession, service_id: str) -> int | None:
    """Take one free place of a service counting places, in the caller's transaction.

    Never goes below 0 (a service that is full stays full: the organisation chose to accept).
    Returns the places left, or None when the service does not count places.
    """
    left = (
        await session.execute(
            update(SERVICES)
            .where(
                SERVICES.c.id == service_id,
                SERVICES.c.capacity == CapacityKind.PLACES.value,
            )
            .values(
                places_available=func.greatest(SERVICES.c.places_available - 1, 0),
                capacity_updated_at=func.now(),
            )
            .returning(SERVICES.c.places_available)
        )
    ).scalar_one_or_none()
    return None if left is None else int(left)


async def usual_responses(
    session: AsyncSession, service_ids: Sequence[str]
) -> dict[str, UsualResponse]:
    """Per service id, how it answered the hub's onward referrals (decided ones only)."""
    if not service_ids:
        return {}
    rows = (await session.execute(ONWARD_ANSWERS, {"ids": list(service_ids)})).all()
    decided: dict[str, list[tuple[float | None, Answer]]] = {}
    for row in rows:
        if row.business_status == "no-response":
            answer = Answer.NO_RESPONSE
        elif row.status == "rejected":
            answer = Answer.DECLINED
        else:
            answer = Answer.ACCEPTED
        days = None if row.days is None else float(row.days)
        decided.setdefault(row.service_id, []).append((days, answer))
    return {service_id: usual_response(found) for service_id, found in decided.items()}


class DirectoryRepository:
    """The directory read model and its live capacity, in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, service: DirectoryService, bundle: dict[str, Any]) -> None:
        await upsert(self._session, service, bundle)

    async def withdraw(self, directory_id: str) -> None:
        await withdraw(self._session, directory_id)

    async def search(self, criteria: SearchCriteria) -> list[tuple[Candidate, dict[str, Any]]]:
        return await search(self._session, criteria)

    async def read(self, service_id: str) -> tuple[Candidate, dict[str, Any]] | None:
        return await read(self._session, service_id)

    async def organisation_of(self, service_id: str) -> str | None:
        return await organisation_of(self._session, service_id)

    async def set_capacity(self, service_id: str, capacity: Capacity) -> None:
        await set_capacity(self._session, service_id, capacity)

    async def take_place(self, service_id: str) -> int | None:
        return await take_place(self._session, service_id)

    async def usual_responses(self, service_ids: Sequence[str]) -> dict[str, UsualResponse]:
        return await usual_responses(self._session, service_ids)
