"""Rendering pages: the templates, the navigation per role, notices, errors, safe headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from hub_common.fhir.needs import NEED_DISPLAY
from hub_common.fhir.task_outputs import SUPPORT_DISPLAY
from hub_web.adapters.hub_api import ApiRefused, ApiUnavailable
from hub_web.domain.metrics import describe_duration
from hub_web.domain.naming import language_name
from hub_web.domain.refusals import plain_problems
from hub_web.domain.tasks import STATUS_LABELS, STEP_LABELS
from hub_web.entrypoints.forms import FormProblem
from hub_web.entrypoints.sessions import (
    SESSION_COOKIE,
    CsrfRefused,
    SignInRequired,
    WebSession,
    WrongRole,
    clear_cookie,
    optional_session,
    settings_of,
)

HERE = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")

NOTICES = {
    "accepted": "Offer accepted: the referral is now in your caseload.",
    "declined": "Offer declined: the referral goes to the next link worker.",
    "progress": "Progress recorded.",
    "first-contact": "First contact and wellbeing scores recorded.",
    "closed": "Referral completed with its outcomes.",
    "assigned": "Referral offered to the link worker you chose.",
    "referred": "Onward referral sent: the service has been told and will answer here.",
    "org-accepted": "Referral accepted: record whether the person comes.",
    "org-declined": "Referral declined: the link worker has been told why.",
    "attendance": "Attendance recorded: the link worker can see it.",
}

# Pages are personal to whoever is signed in: never cached, framed or given scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str


NAVIGATION: dict[str, tuple[NavLink, ...]] = {
    "link_worker": (NavLink("/worker", "Offers"), NavLink("/worker/caseload", "Caseload")),
    "coordinator": (
        NavLink("/coordinator", "Waiting referrals"),
        NavLink("/coordinator/alerts", "Alerts"),
        NavLink("/coordinator/people", "Same person?"),
        NavLink("/coordinator/charts", "Charts"),
    ),
    "agency": (NavLink("/referrer", "Our referrals"),),
    "organisation": (NavLink("/organisation", "Referrals to us"),),
}


def when(moment: datetime | None) -> str:
    """A time as people in London read it: `23 Nov 2026, 16:45`."""
    if moment is None:
        return "time not known"
    return moment.astimezone(LONDON).strftime("%-d %b %Y, %H:%M")


def answer_by(moment: datetime | None) -> str:
    """A deadline at the end of a day (midnight in London, as the hub sets them) as that day,
    so "18 Dec, 00:00" reads "the end of 17 Dec"; any other time as `when` writes it."""
    if moment is None:
        return "no deadline"
    local = moment.astimezone(LONDON)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"the end of {(local - timedelta(days=1)).strftime('%-d %b %Y')}"
    return when(moment)


def time_left(moment: datetime | None, now: datetime | None = None) -> str:
    """How long until a deadline, in the largest whole unit: `in 2 days`, `in 5 hours`."""
    if moment is None:
        return "no deadline"
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds <= 0:
        return "passed"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "in under a minute"


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = when
    templates.env.filters["time_left"] = time_left
    templates.env.filters["answer_by"] = answer_by
    templates.env.filters["language"] = language_name
    templates.env.filters["plain_problems"] = plain_problems
    templates.env.filters["duration"] = describe_duration
    templates.env.globals["status_labels"] = STATUS_LABELS
    templates.env.globals["step_labels"] = STEP_LABELS
    templates.env.globals["need_labels"] = NEED_DISPLAY
    templates.env.globals["kind_labels"] = SUPPORT_DISPLAY
    return templates


def render(
    request: Request,
    template: str,
    session: WebSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page: the template with the session, the role's navigation and any notice."""
    templates: Jinja2Templates = request.app.state.templates
    role = session.caller.principal.role if session else None
    done = request.query_params.get("done")
    return templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "nav": NAVIGATION.get(role or "", ()),
            "path": request.url.path,
            "notice": NOTICES.get(done or ""),
            **context,
        },
        status_code=status_code,
    )


def see_other(url: str) -> RedirectResponse:
    """After a successful post: redirect, so reloading the page never posts twice."""
    return RedirectResponse(url, status_code=303)


REFUSALS_TO_SHOW = frozenset({400, 409, 422})


async def act(
    action: Callable[[], Awaitable[None]],
    success_url: str,
    on_refusal: Callable[[str], Awaitable[Response]],
) -> Response:
    """Run a change; on success redirect, on a refusal the person can fix show it in place."""
    try:
        await action()
    except FormProblem as problem:
        return await on_refusal(str(problem))
    except ApiRefused as refusal:
        if refusal.status not in REFUSALS_TO_SHOW:
            raise
        return await on_refusal(refusal.message)
    return see_other(success_url)


def error_page(request: Request, status_code: int, heading: str, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        optional_session(request),
        status_code=status_code,
        heading=heading,
        message=message,
    )


def page_of_form(request: Request) -> str:
    """The nearest address above a form's own that a GET can open: the page it was posted
    from (`/worker/referrals/r1/accept` -> `/worker/referrals/r1`)."""
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        candidate = "/".join(parts) or "/"
        scope = {"type": "http", "path": candidate, "method": "GET", "root_path": ""}
        if any(
            route.matches(scope)[0] is Match.FULL
            for route in request.app.routes
            if not isinstance(route, Mount)
        ):
            return candidate
    return "/"


def install_page_handlers(app: FastAPI) -> None:
    """Sign-in redirects, error pages instead of JSON, and the security headers."""

    async def sign_in(request: Request, error: Exception) -> Response:
        response = see_other("/login")
        if request.cookies.get(SESSION_COOKIE):
            clear_cookie(response, settings_of(request), SESSION_COOKIE)
        return response

    async def wrong_role(request: Request, error: Exception) -> Response:
        return error_page(request, 403, "Not for your role", "This page belongs to another role.")

    async def csrf(request: Request, error: Exception) -> Response:
        return error_page(
            request,
            403,
            "The form has expired",
            "Go back, reload the page and try again.",
        )

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiRefused)
        if error.status == 401:
            return await sign_in(request, error)
        if error.status == 404:
            return error_page(
                request, 404, "Not found", "There is no such referral that you can see."
            )
        return error_page(request, error.status, "The hub refused that", error.message)

    async def unavailable(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiUnavailable)
        return error_page(
            request, 503, "Try again shortly", f"The hub's {error.service} is not answering."
        )

    async def invalid(request: Request, error: Exception) -> Response:
        return error_page(
            request, 400, "That request was incomplete", "Go back and fill in every field."
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 405 and request.method in ("GET", "HEAD"):
            # A form's address opened by GET (a reload after a refused post, a bookmark, the
            # history): the page the form belongs to, not a bare "Method Not Allowed".
            return see_other(page_of_form(request))
        if error.status_code == 404:
            return error_page(
                request,
                404,
                "Page not found",
                "There is no page at this address. It may have moved, or the link was mistyped.",
            )
        return error_page(request, error.status_code, "That did not work", "Go back and try again.")

    async def server_error(request: Request, error: Exception) -> Response:
        # Served by the outermost middleware, past the one that adds the headers: add them.
        page = error_page(
            request,
            500,
            "Something went wrong on our side",
            "Nothing you did caused this, and it has been logged. Try again in a minute.",
        )
        page.headers.update(SECURITY_HEADERS)
        return page

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(WrongRole, wrong_role)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(ApiRefused, refused)
    app.add_exception_handler(ApiUnavailable, unavailable)
    app.add_exception_handler(RequestValidationError, invalid)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
