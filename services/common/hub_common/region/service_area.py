"""Which postcode districts the hub serves, and in which local authority area each lies.

The service area is data an operator supplies, not code: a JSON file (the area's name, then
each local authority's GSS code, name and postcode districts) named by `HUB_SERVICE_AREA`, the
same file for every service and the CLI. Without it, the packaged demo, South West London
(`data/service-area-swl.json`). Each process reads the file once, at start (a bad file stops it,
every problem named by field, or by line and column when it is not JSON), and keeps it for its
life: changing the area is a deliberate act, a new file and a restart of every service, never
something that drifts between services while they run. The README's operations section says how
to add a region.

The code calls an area's local authorities "boroughs" (coordinators' tokens, routing, charts)
whatever the region calls them: districts, boroughs, unitary authorities or council areas.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

SERVICE_AREA_ENV = "HUB_SERVICE_AREA"
DEMO_FILE = "data/service-area-swl.json"

_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
_GSS_CODE = re.compile(r"^[ENSW][0-9]{8}$")


class ServiceAreaError(ValueError):
    """A service area file that cannot be used, with every problem it has."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listed = "".join(f"\n  {problem}" for problem in problems)
        super().__init__(
            f"service area {source} ({SERVICE_AREA_ENV}): "
            + (problems[0] if len(problems) == 1 else f"{len(problems)} problems:{listed}")
        )


@dataclass(frozen=True)
class LocalAuthority:
    """One local authority area of the service area: its GSS code (E09000008), its name as
    coordinators and link workers know it (Croydon), and its postcode districts."""

    code: str
    name: str
    districts: tuple[str, ...]


@dataclass(frozen=True)
class ServiceArea:
    """The area the hub serves: its name (said in every out-of-area refusal) and its local
    authorities, each district in exactly one."""

    name: str
    authorities: tuple[LocalAuthority, ...]
    source: str
    """Where it was read from, for messages."""

    @property
    def boroughs(self) -> tuple[str, ...]:
        """The local authorities' names, in the file's order."""
        return tuple(authority.name for authority in self.authorities)

    @property
    def district_boroughs(self) -> Mapping[str, str]:
        """Outward code (e.g. `SM1`) -> the name of its local authority."""
        return _district_index(self)

    def borough_of(self, postcode: str) -> str | None:
        return self.district_boroughs.get(district_of(postcode))

    def is_served(self, postcode: str) -> bool:
        return self.borough_of(postcode) is not None


@cache
def _district_index(area: ServiceArea) -> Mapping[str, str]:
    return {
        district: authority.name
        for authority in area.authorities
        for district in authority.districts
    }


def _postcode_district(district: str) -> str:
    if not _DISTRICT.match(district):
        raise ValueError(
            f"{district!r} is not a postcode district (an outward code in capitals, such as SM1 "
            "or SW1A)"
        )
    return district


class _AuthorityDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    code: str = Field(description="GSS code of the local authority, e.g. E09000008")
    name: str = Field(min_length=1, description="Its name, as coordinators know it")
    districts: list[Annotated[str, AfterValidator(_postcode_district)]] = Field(
        min_length=1, description="Its postcode districts"
    )

    @field_validator("code")
    @classmethod
    def _gss(cls, code: str) -> str:
        if not _GSS_CODE.match(code):
            raise ValueError(f"{code!r} is not a GSS code (a letter E, N, S or W and 8 digits)")
        return code

    @field_validator("name")
    @classmethod
    def _trimmed(cls, name: str) -> str:
        if name != name.strip() or not name.strip():
            raise ValueError(f"{name!r}: a name without leading or trailing spaces")
        return name


class _AreaDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, description="The area's name, said in refusals")
    description: str = ""
    local_authorities: list[_AuthorityDocument] = Field(min_length=1)
    notes: dict[str, str] = Field(default_factory=dict, description="district -> remark")


def _where(location: tuple[int | str, ...]) -> str:
    """Pydantic's error location as a path an operator can follow: `local_authorities[2].code`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(the document)"


def parse_service_area(text: str, source: str) -> ServiceArea:
    """The area in a JSON document, or ServiceAreaError naming every problem."""
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ServiceAreaError(
            source, [f"line {error.lineno}, column {error.colno}: not JSON: {error.msg}"]
        ) from None
    if not isinstance(raw, dict):
        raise ServiceAreaError(source, ["expected a JSON object with name and local_authorities"])
    try:
        document = _AreaDocument.model_validate(raw)
    except ValidationError as error:
        refused = [
            f"{_where(problem['loc'])}: {problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors()
        ]
        raise ServiceAreaError(source, refused) from None
    problems: list[str] = []
    seen_districts: dict[str, str] = {}
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for number, authority in enumerate(document.local_authorities):
        where = f"local_authorities[{number}]"
        if authority.code in seen_codes:
            problems.append(
                f"{where}.code: {authority.code} is already local_authorities"
                f"[{seen_codes[authority.code]}]"
            )
        seen_codes.setdefault(authority.code, number)
        if authority.name.casefold() in seen_names:
            problems.append(
                f"{where}.name: {authority.name!r} is already local_authorities"
                f"[{seen_names[authority.name.casefold()]}]"
            )
        seen_names.setdefault(authority.name.casefold(), number)
        for index, district in enumerate(authority.districts):
            if district in seen_districts:
                problems.append(
                    f"{where}.districts[{index}]: {district} is already in "
                    f"{seen_districts[district]}: a district belongs to one local authority "
                    "(the one it mostly lies in; say so in notes)"
                )
            else:
                seen_districts[district] = authority.name
    for district in document.notes:
        if district not in seen_districts:
            problems.append(f"notes.{district}: {district!r} is not one of the area's districts")
    if problems:
        raise ServiceAreaError(source, problems)
    return ServiceArea(
        name=document.name,
        authorities=tuple(
            LocalAuthority(a.code, a.name, tuple(a.districts)) for a in document.local_authorities
        ),
        source=source,
    )


def read_service_area(path: str | Path) -> ServiceArea:
    """The area in the file at `path` (ServiceAreaError when it cannot be read or used)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ServiceAreaError(str(path), [f"cannot be read: {reason}"]) from None
    return parse_service_area(text, str(path))


@cache
def load_service_area(path: str) -> ServiceArea:
    """The area in the file at `path`, or the packaged demo when `path` is empty; read once."""
    if path:
        return read_service_area(path)
    demo = resources.files("hub_common").joinpath(DEMO_FILE)
    return parse_service_area(demo.read_text(encoding="utf-8"), f"the packaged demo {DEMO_FILE}")


def service_area() -> ServiceArea:
    """The configured area: the file `HUB_SERVICE_AREA` names, else the South West London demo.
    Read once per path (a process's environment does not change under it)."""
    return load_service_area(os.environ.get(SERVICE_AREA_ENV, "").strip())


def district_boroughs() -> Mapping[str, str]:
    """Outward code (e.g. `SM1`) -> local authority, in the configured area."""
    return service_area().district_boroughs


def boroughs() -> tuple[str, ...]:
    """The configured area's local authorities, by name."""
    return service_area().boroughs


def district_of(postcode: str) -> str:
    """The outward code of a normalised postcode (`SM1 1AA` -> `SM1`)."""
    return postcode.split(" ", 1)[0]


def borough_of(postcode: str) -> str | None:
    return service_area().borough_of(postcode)


def is_served(postcode: str) -> bool:
    return service_area().is_served(postcode)
