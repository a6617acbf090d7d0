"""Where directory records come from: an ORUK JSON file, or an ORUK / HSDS API, page by page.

Two paging styles are in use: ORUK 1 answers `/services?page=&per_page=` with
`totalElements`, `totalPages`, `number` and `content`; HSDS 3.0 (ORUK 3) with `total_items`,
`total_pages`, `page_number` and `contents`. Both number pages from 1. `modified_after` asks
an HSDS 3.0 API for what changed since; an API that ignores it sends everything, which the
import then compares with the directory it already has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from hub_common.jsonio import loads


class FeedError(RuntimeError):
    """The feed could not be read as a whole: nothing is imported from a partial read."""


@dataclass(frozen=True)
class Page:
    """One page of an API's service list."""

    records: list[Any]
    number: int
    total_pages: int
    total_items: int | None
    last: bool


def _integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeedError(f"page field {key!r}: expected a whole number, got {value!r}")
    return value


def read_page(body: Any, requested: int) -> Page:
    """Parse one page in either style; a page in neither is an error naming what it lacks."""
    if not isinstance(body, dict):
        raise FeedError(f"page {requested}: expected a JSON object, got {type(body).__name__}")
    if "contents" in body:  # HSDS 3.0
        records, number, pages, items = (
            body["contents"],
            _integer(body, "page_number"),
            _integer(body, "total_pages"),
            _integer(body, "total_items"),
        )
        last = body.get("last_page")
    elif "content" in body:  # ORUK 1
        records, number, pages, items = (
            body["content"],
            _integer(body, "number"),
            _integer(body, "totalPages"),
            _integer(body, "totalElements"),
        )
        last = body.get("last")
    else:
        raise FeedError(
            f"page {requested}: neither HSDS 3.0 paging (contents, total_pages, page_number) "
            "nor ORUK paging (content, totalPages, number)"
        )
    if not isinstance(records, list):
        raise FeedError(f"page {requested}: the list of services is not a JSON array")
    total_pages = pages if pages is not None else requested
    return Page(
        records=records,
        number=number if number is not None else requested,
        total_pages=total_pages,
        total_items=items,
        last=bool(last) if isinstance(last, bool) else requested >= total_pages,
    )


def read_file(path: Path) -> list[Any]:
    """An ORUK file: a list of services, a page in either style, or `{"services": [...]}`."""
    try:
        body = loads(path.read_bytes())
    except ValueError as error:
        raise FeedError(f"{path.name}: not JSON ({error})") from None
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("services"), list):
        return list(body["services"])
    return read_page(body, 1).records


ProgressCallback = Callable[[int, int], None]


async def fetch_services(
    base_url: str,
    *,
    modified_after: datetime | None = None,
    per_page: int = 100,
    client: httpx.AsyncClient | None = None,
    on_page: ProgressCallback | None = None,
    attempts: int = 3,
) -> list[Any]:
    """Every service record the API lists, following its pages to the last one."""
    url = base_url.rstrip("/") + "/services"
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=True)
    records: list[Any] = []
    try:
        requested, total = 1, 1
        while True:
            params: dict[str, str | int] = {"page": requested, "per_page": per_page, "full": "true"}
            if modified_after is not None:
                params["modified_after"] = modified_after.isoformat()
            page = read_page(await _get_json(http, url, params, attempts), requested)
            records.extend(page.records)
            total = max(page.total_pages, 1)
            if on_page is not None:
                on_page(requested, total)
            if page.last or not page.records or requested >= total:
                return records
            if requested >= 10_000:
                raise FeedError(f"{url}: more than 10,000 pages; is the page parameter ignored?")
            requested += 1
    finally:
        if own_client:
            await http.aclose()


async def _get_json(
    http: httpx.AsyncClient, url: str, params: dict[str, str | int], attempts: int
) -> Any:
    """GET with a bounded retry of transient failures (connection errors, 429, 5xx)."""
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            response = await http.get(url, params=params, headers={"Accept": "application/json"})
        except httpx.TransportError as error:
            failure = f"{type(error).__name__}"
        else:
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise FeedError(f"{url} page {params['page']}: not JSON") from None
            if response.status_code != 429 and response.status_code < 500:
                raise FeedError(f"{url} page {params['page']}: HTTP {response.status_code}")
            failure = f"HTTP {response.status_code}"
        if attempt == attempts:
            raise FeedError(f"{url} page {params['page']}: {failure} after {attempts} attempts")
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")
