"""HTTP entrypoints of the community services directory.

- `GET /fhir/HealthcareService?referral=&category=&type=&_text=&near=&distance=&open-on=&free=
  &age=&capacity=&_count=`: a searchset, best first, each match saying why it matches
- `GET /fhir/HealthcareService/<id>`: one service, with its capacity and usual response
- `POST /fhir/HealthcareService/<id>/$capacity` `{"capacity", "placesAvailable"}`: the
  organisation that runs the service states its live capacity
- `GET /fhir/metadata`: the CapabilityStatement (no credentials, as FHIR clients expect)

Link workers, coordinators and organisations read the directory (it holds no personal data).
`referral` takes the person's postcode district from the referral's routing facts, so only a
caller who may see that referral may name it (404 otherwise), and that read is audited.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hub_common.fhir.needs import NeedCategory
from hub_common.security.audit import AuditLogDep
from hub_common.security.auth import Principal, require
from hub_router.adapters.capability import capability_statement
from hub_router.adapters.fhir_directory import searchset, service_resource
from hub_router.domain.directory_search import (
    Availability,
    CapacityKind,
    CapacityRefused,
    SearchCriteria,
    parse_days,
)
from hub_router.entrypoints.http_tasks import fhir, refusal, viewer_of
from hub_router.service_layer.directory import (
    DirectoryServices,
    Found,
    ServiceNotFound,
    UnknownDistrict,
)

E = TypeVar("E", bound=StrEnum)
Reader = Annotated[Principal, Depends(require("link_worker", "coordinator", "organisation"))]
Organisation = Annotated[Principal, Depends(require("organisation"))]


class CapacityBody(BaseModel):
    """What an organisation says about a service's capacity now."""

    model_config = ConfigDict(populate_by_name=True)

    capacity: CapacityKind = Field(
        description="`places` (give placesAvailable) or `waiting-list` (no number)"
    )
    places_available: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        alias="placesAvailable",
        description="Free places now, with `places`",
    )


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _codes(values: list[str] | None, kind: type[E]) -> tuple[list[E], str]:
    """Codes from repeated and comma-separated values, and the first one that is not a code."""
    codes = []
    for value in _split(values):
        try:
            codes.append(kind(value))
        except ValueError:
            return codes, value
    return codes, ""


def _one(found: Found) -> dict[str, object]:
    candidate, bundle, _ = found.results[0]
    return service_resource(bundle, candidate, found.usual.get(candidate.id))


def install_directory_errors(app: FastAPI) -> None:
    """Unknown service 404, an unknown district or a refused capacity 422 naming the field."""

    async def not_found(request: Request, error: Exception) -> JSONResponse:
        return refusal(
            404, f"no HealthcareService {error} that you can see", "not-found", "HealthcareService"
        )

    async def unknown_district(request: Request, error: Exception) -> JSONResponse:
        return refusal(422, f"no centre is known for postcode district {error}", "value", "near")

    async def capacity_refused(request: Request, error: Exception) -> JSONResponse:
        field, _, message = str(error).partition(": ")
        return refusal(422, message, "value", field)

    app.add_exception_handler(ServiceNotFound, not_found)
    app.add_exception_handler(UnknownDistrict, unknown_district)
    app.add_exception_handler(CapacityRefused, capacity_refused)


def directory_router(directory: DirectoryServices) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["directory"])

    @router.get("/metadata", summary="CapabilityStatement")
    async def metadata(request: Request) -> JSONResponse:
        """What this FHIR server answers (open to all, as FHIR expects)."""
        return fhir(capability_statement(str(request.base_url), request.app.version))

    @router.get("/HealthcareService", summary="Find a community service")
    async def search_services(
        principal: Reader,
        request: Request,
        audit: AuditLogDep,
        referral: Annotated[
            str | None,
            Query(description="A referral you may see: distance from the person's district"),
        ] = None,
        category: Annotated[
            list[str] | None,
            Query(description="Hub need category (any of them; repeat or separate with commas)"),
        ] = None,
        type_: Annotated[
            list[str] | None,
            Query(alias="type", description="Taxonomy term: `system|code` or a code (any)"),
        ] = None,
        text: Annotated[
            str | None,
            Query(alias="_text", max_length=200, description="Words in name or description"),
        ] = None,
        near: Annotated[
            str | None,
            Query(
                max_length=4,
                pattern="^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?$",
                description="Postcode district to measure distance from (instead of referral)",
            ),
        ] = None,
        distance: Annotated[
            float | None, Query(gt=0, le=200, description="Only within this many km")
        ] = None,
        open_on: Annotated[
            list[str] | None,
            Query(alias="open-on", description="Days (mon … sun): open on any of them"),
        ] = None,
        free: Annotated[bool | None, Query(description="Free of charge (true) or not")] = None,
        age: Annotated[int | None, Query(ge=0, le=130, description="The person's age")] = None,
        capacity: Annotated[
            list[str] | None,
            Query(description="available, full, waiting-list, unknown (any of them)"),
        ] = None,
        count: Annotated[int, Query(alias="_count", ge=1, le=200)] = 50,
    ) -> JSONResponse:
        """Services meeting every condition given, best first, each with why it matches."""
        try:
            days = parse_days(open_on or [])
        except ValueError as error:
            return refusal(422, str(error), "value", "open-on")
        needs, unknown = _codes(category, NeedCategory)
        if unknown:
            return refusal(422, f"not a hub need category: {unknown}", "value", "category")
        states, unknown = _codes(capacity, Availability)
        if unknown:
            allowed = ", ".join(a.value for a in Availability)
            return refusal(422, f"{unknown}: expected {allowed}", "value", "capacity")
        district = near.upper() if near else None
        if referral is not None and district is None:
            district = await directory.referral_district(viewer_of(principal), referral)
            await audit.read(request, principal, "Task", [referral])
        if distance is not None and district is None:
            return refusal(422, "distance needs `near` or `referral`", "required", "distance")
        criteria = SearchCriteria(
            needs=frozenset(needs),
            terms=frozenset(_split(type_)),
            text=text.strip() if text and text.strip() else None,
            origin_district=district,
            within_km=distance,
            days=days,
            free=free,
            age=age,
            availability=frozenset(states),
            limit=count,
        )
        found = await directory.search(criteria)
        return fhir(
            searchset(found.results, found.usual, str(request.base_url), str(request.url), count)
        )

    @router.get("/HealthcareService/{service_id}", summary="Read a community service")
    async def read_service(principal: Reader, service_id: str) -> JSONResponse:
        """One service of the directory, with its live capacity and usual response."""
        return fhir(_one(await directory.read(service_id)))

    @router.post("/HealthcareService/{service_id}/$capacity", summary="State live capacity")
    async def set_capacity(
        principal: Organisation, service_id: str, body: CapacityBody
    ) -> JSONResponse:
        """Your organisation's service: places free now, or a waiting list (404 if not yours)."""
        found = await directory.set_capacity(
            principal.organisation or "", service_id, body.capacity, body.places_available
        )
        return fhir(_one(found))

    return router
