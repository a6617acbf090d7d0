"""FHIR's HTTP rules, shared by every `/fhir` route of every service (notifier, router, intake).

A FHIR client reads every error as an OperationOutcome, asks for a format and expects 406 when
the server cannot give it, and revalidates a read with `If-None-Match`. FastAPI's own answers
(`{"detail": ...}` for 401, 403, 404 and parameter errors; JSON whatever was asked) break
those clients quietly, so on `/fhir` paths:

- `Accept` without any JSON, or `_format` naming XML (or anything but JSON), answers 406.
- Every error is an OperationOutcome sent as `application/fhir+json`: 401 (with its
  `WWW-Authenticate`), 403, 404, 405, a refused search parameter or an invalid query (400),
  an invalid body (422).
- A read answers `ETag: W/"<versionId>"` and `Last-Modified`, and 304 when `If-None-Match`
  names the current version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.fhir.search import SearchRefused

FHIR_JSON_MEDIA = "application/fhir+json"
FHIR_PREFIX = "/fhir"
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_JSON_RANGES = ("*/*", "application/*", "application/json", "application/fhir+json")
_HTTP_CODES = {
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
}


class FhirResponse(JSONResponse):
    """JSON sent as `application/fhir+json`."""

    media_type = FHIR_JSON_MEDIA


def is_fhir_path(request: Request) -> bool:
    path = request.url.path
    return path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/")


def outcome(
    status_code: int, *issues: Issue, headers: Mapping[str, str] | None = None
) -> FhirResponse:
    """An OperationOutcome answer listing `issues`."""
    return FhirResponse(
        operation_outcome(list(issues)), status_code=status_code, headers=dict(headers or {})
    )


def accepts_json(accept: str | None, format_: str | None) -> bool:
    """Whether the client can take JSON: `_format` wins over `Accept` (FHIR's rule)."""
    if format_ is not None:
        return format_.split(";")[0].strip().lower() in JSON_FORMATS
    if not accept or not accept.strip():
        return True
    for part in accept.split(","):
        media, *parameters = (piece.strip().lower() for piece in part.split(";"))
        if "q=0" in parameters or "q=0.0" in parameters:
            continue
        if media in _JSON_RANGES or media.endswith("+json"):
            return True
    return False


async def refuse_unacceptable(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """406 on `/fhir` for a client that cannot take JSON (the hub speaks FHIR JSON only)."""
    if is_fhir_path(request) and not accepts_json(
        request.headers.get("accept"), request.query_params.get("_format")
    ):
        return outcome(
            406,
            Issue(
                "_format" if "_format" in request.query_params else "Accept",
                "this server answers application/fhir+json only",
                code="not-supported",
            ),
        )
    return await call_next(request)


def http_error(request: Request, error: StarletteHTTPException) -> FhirResponse:
    """A framework HTTP error (401, 403, 404, 405...) as an OperationOutcome."""
    field = "Authorization" if error.status_code == 401 else "(request)"
    return outcome(
        error.status_code,
        Issue(field, str(error.detail), code=_HTTP_CODES.get(error.status_code, "processing")),
        headers=error.headers,
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    where, *path = loc or ("body",)
    return str(where), ".".join(str(part) for part in path) or str(where)


def invalid_input(error: RequestValidationError, printable: Callable[[object], str]) -> Response:
    """Parameter errors are 400 (a bad search, FHIR's rule); a body FastAPI finds invalid
    field by field is 422. Each issue names the parameter or field, never echoing its value."""
    issues, in_body = [], False
    for problem in error.errors():
        where, name = _location(problem.get("loc", ()))
        in_body = in_body or where == "body"
        issues.append(Issue(printable(name), printable(problem.get("msg", "")), code="value"))
    return outcome(422 if in_body else 400, *issues)


def search_refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, SearchRefused)
    return outcome(400, error.issue)


def install(app: FastAPI) -> None:
    """The 406 check and the refusal of bad search parameters (error answers on `/fhir` are
    made by service_app's handlers, which call `http_error` and `invalid_input`)."""
    app.middleware("http")(refuse_unacceptable)
    app.add_exception_handler(SearchRefused, search_refused)


def _version_of(resource: Mapping[str, Any]) -> str | None:
    version = (resource.get("meta") or {}).get("versionId")
    return str(version) if version is not None else None


def etag_matches(if_none_match: str | None, version: str) -> bool:
    """`If-None-Match` naming this version: `W/"3"`, `"3"`, bare `3` (as fhirpy sends) or `*`."""
    for tag in (if_none_match or "").split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == version:
            return True
    return False


def read_response(
    request: Request, resource: Mapping[str, Any], status_code: int = 200
) -> Response:
    """A resource read: ETag and Last-Modified from its meta, 304 when the client has it."""
    headers: dict[str, str] = {}
    version = _version_of(resource)
    if version is not None:
        headers["ETag"] = f'W/"{version}"'
    if updated := (resource.get("meta") or {}).get("lastUpdated"):
        try:
            instant = datetime.fromisoformat(str(updated).replace("Z", "+00:00"))
            instant = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
            headers["Last-Modified"] = format_datetime(instant.astimezone(UTC), usegmt=True)
        except ValueError:
            pass  # an odd lastUpdated costs the header, not the read
    if version is not None and etag_matches(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers=headers)
    return FhirResponse(dict(resource), status_code=status_code, headers=headers)
