"""FHIR search, shared by every `GET /fhir/<type>` of the hub: the parameters, paging, Bundles.

A standard FHIR client (fhirpy, fhirclient, HAPI) trusts what a searchset says about itself:
it follows `next` to fetch everything, reads `self` to learn which parameters were applied,
and expects a parameter the server cannot honour to be refused (under
`Prefer: handling=strict`) or at least left out of `self` (lenient, the default). So:

- `_count` is capped at the route's maximum rather than refused; `_summary=count` answers the
  total alone; `_id`, `_sort` (on `_lastUpdated`, either way) and `_elements` are honoured.
- Pages are cursor-based (keyset on the sort time and the id), so a page stays stable while
  Tasks change: a client paging through never skips or repeats one that moved meanwhile.
  `next` and `previous` carry an opaque `_page` cursor and the applied parameters.
- Any other parameter is refused with a 400 OperationOutcome under strict handling, and
  otherwise ignored and left out of `self`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, tuple_

from hub_common.fhir.outcome import Issue

CONTROL = ("_count", "_sort", "_summary", "_elements", "_id", "_page", "_format")
"""Result parameters every search takes (`_format` is checked by hub_common.http.fhir)."""
SORT_KEY = "_lastUpdated"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
ALWAYS_KEPT = ("resourceType", "id", "meta")
MANDATORY = {"Task": ("status", "intent"), "ServiceRequest": ("status", "intent", "subject")}
"""Kept whatever `_elements` asks (FHIR: servers SHOULD return mandatory elements)."""
SEARCH_RESULT_PARAMETERS: tuple[dict[str, str], ...] = (
    {"name": "_count", "type": "number", "documentation": "page size, capped by the server"},
    {"name": "_sort", "type": "string", "documentation": "_lastUpdated or -_lastUpdated"},
    {"name": "_summary", "type": "token", "documentation": "count (the total alone)"},
    {"name": "_elements", "type": "string", "documentation": "top-level elements to keep"},
)
"""How each search's result parameters are declared in a CapabilityStatement."""


class SearchRefused(ValueError):
    """A parameter the search cannot honour: answered 400 with an OperationOutcome naming it."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (`next`) or before (`previous`) one row's sort key."""

    forward: bool
    instant: datetime
    id: str

    def token(self) -> str:
        raw = json.dumps(["n" if self.forward else "p", self.instant.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            direction, instant, row_id = json.loads(base64.urlsafe_b64decode(padded))
            if direction not in ("n", "p") or not isinstance(row_id, str):
                raise ValueError(direction)
            return cls(direction == "n", datetime.fromisoformat(instant), row_id)
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            raise SearchRefused(
                Issue("_page", "not a page cursor this server gave: follow the Bundle's links")
            ) from None


@dataclass(frozen=True)
class SearchQuery:
    """A search request, parsed: the filters for the route, and how to shape the answer."""

    filters: dict[str, list[str]]  # the route's own parameters, as sent (only known ones)
    ids: tuple[str, ...] = ()
    descending: bool = False  # by `_lastUpdated`
    sort_given: bool = False
    count: int = 100
    summary_count: bool = False
    elements: tuple[str, ...] = ()
    cursor: Cursor | None = None
    ignored: tuple[str, ...] = field(default=())

    def first(self, name: str) -> str | None:
        values = self.filters.get(name)
        return values[0] if values else None

    def applied(self) -> list[tuple[str, str]]:
        """The parameters this answer honoured, in a stable order, for the `self` link."""
        pairs = [(name, value) for name, values in self.filters.items() for value in values]
        if self.ids:
            pairs.append(("_id", ",".join(self.ids)))
        if self.sort_given:
            pairs.append(("_sort", f"-{SORT_KEY}" if self.descending else SORT_KEY))
        if self.elements:
            pairs.append(("_elements", ",".join(self.elements)))
        if self.summary_count:
            pairs.append(("_summary", "count"))
        pairs.append(("_count", str(self.count)))
        return pairs


def is_strict(prefer: str | None) -> bool:
    """`Prefer: handling=strict` (RFC 7240, as FHIR search uses it)."""
    return any(
        part.strip().lower().replace(" ", "") == "handling=strict"
        for part in (prefer or "").split(";")
        for part in part.split(",")
    )


def _split(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.strip() for value in values for p in value.split(",") if p.strip())


def parse_search(
    params: Sequence[tuple[str, str]],
    supported: Iterable[str],
    *,
    strict: bool,
    default_count: int = 100,
    max_count: int = 500,
    descending_by_default: bool = False,
) -> SearchQuery:
    """Read a search's query string. `supported` names the route's own filter parameters."""
    known = set(supported)
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    ignored: list[str] = []

    def unsupported(name: str, why: str) -> None:
        if strict:
            raise SearchRefused(Issue(name, why, code="not-supported"))
        ignored.append(name)

    for name in grouped:
        if name not in known and name not in CONTROL:
            unsupported(name, f"this server does not support the search parameter {name!r}")
    count = default_count
    if "_count" in grouped:
        text = grouped["_count"][-1]
        if not text.isdigit():
            raise SearchRefused(Issue("_count", f"expected a whole number, got {text!r}"))
        count = min(int(text), max_count)  # FHIR lets a server return fewer than asked
    descending, sort_given = descending_by_default, False
    if "_sort" in grouped:
        keys = _split(grouped["_sort"])
        if len(keys) == 1 and keys[0].lstrip("-") == SORT_KEY:
            descending, sort_given = keys[0].startswith("-"), True
        else:
            unsupported("_sort", f"only _sort={SORT_KEY} or _sort=-{SORT_KEY} is supported")
    summary_count = False
    if "_summary" in grouped:
        summary = grouped["_summary"][-1]
        if summary == "count":
            summary_count = True
        elif summary != "false":
            unsupported("_summary", "only _summary=count (or false) is supported")
    cursor = Cursor.parse(grouped["_page"][-1]) if "_page" in grouped else None
    return SearchQuery(
        filters={name: values for name, values in grouped.items() if name in known},
        ids=_split(grouped.get("_id", ())),
        descending=descending,
        sort_given=sort_given,
        count=count,
        summary_count=summary_count,
        elements=_split(grouped.get("_elements", ())),
        cursor=cursor,
        ignored=tuple(ignored),
    )


def keyset_page(
    query: Select[Any], search: SearchQuery, instant: ColumnElement[Any], row_id: Any
) -> tuple[Select[Any], bool]:
    """`query` narrowed to the page the cursor names, ordered to read it, one row over the page
    (which tells whether there is more). Returns it and whether the rows come back reversed
    (a `previous` page is read backwards from its cursor)."""
    cursor = search.cursor
    forward = cursor is None or cursor.forward
    ascending = forward != search.descending
    if cursor is not None:
        key = tuple_(instant, row_id)
        mark = tuple_(cursor.instant, cursor.id)
        query = query.where(key > mark if ascending else key < mark)
    order = (instant, row_id) if ascending else (instant.desc(), row_id.desc())
    return query.order_by(*order).limit(search.count + 1), not forward


@dataclass(frozen=True)
class Page:
    """One page of rows, in the order asked, and the cursors of its neighbours."""

    rows: list[Any]
    next: Cursor | None
    previous: Cursor | None


def page_of(
    rows: Sequence[Any], search: SearchQuery, reversed_: bool, key: Callable[[Any], tuple[Any, str]]
) -> Page:
    """Cut the over-read rows of `keyset_page` to the page, and find its neighbours' cursors."""
    more = len(rows) > search.count
    page = list(rows[: search.count])
    if reversed_:
        page.reverse()
    if not page:
        return Page(page, None, None)
    came_forward = search.cursor is None or search.cursor.forward
    has_next = more if came_forward else True
    has_previous = search.cursor is not None if came_forward else more
    last, first = key(page[-1]), key(page[0])
    return Page(
        page,
        Cursor(True, *last) if has_next else None,
        Cursor(False, *first) if has_previous else None,
    )


def subsetted(resource: Mapping[str, Any], elements: Sequence[str]) -> dict[str, Any]:
    """The resource cut to `_elements` (plus what every resource keeps and its type's
    mandatory elements, so it stays valid), tagged SUBSETTED."""
    mandatory = MANDATORY.get(str(resource.get("resourceType")), ())
    kept = {
        k: v for k, v in resource.items() if k in elements or k in ALWAYS_KEPT or k in mandatory
    }
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    kept["meta"] = meta
    return kept


def searchset(
    resources: Sequence[Mapping[str, Any]],
    total: int,
    base_url: str,
    endpoint: str,
    search: SearchQuery,
    page: Page | None = None,
) -> dict[str, Any]:
    """The searchset Bundle: absolute fullUrls, `self` listing only what was applied, and
    `next`/`previous` when there are such pages. No `entry` when empty (FHIR JSON has no
    empty arrays)."""
    base = base_url.rstrip("/")

    def link(relation: str, cursor: Cursor | None) -> dict[str, str]:
        pairs = search.applied()
        if cursor is not None:
            pairs.append(("_page", cursor.token()))
        return {"relation": relation, "url": f"{base}{endpoint}?{urlencode(pairs)}"}

    links = [link("self", search.cursor)]
    if page is not None and page.next is not None:
        links.append(link("next", page.next))
    if page is not None and page.previous is not None:
        links.append(link("previous", page.previous))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if resources and not search.summary_count:
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}",
                "resource": subsetted(r, search.elements) if search.elements else dict(r),
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return bundle
