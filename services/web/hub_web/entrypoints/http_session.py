"""Signing in and out, the home page that sends each role to its own pages, and health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse

from hub_common.http.health import health_router
from hub_common.security.auth import InvalidCredentials, Principal, issue_token, verify_token
from hub_web.config import DemoUser, WebSettings
from hub_web.entrypoints.pages import error_page, render, see_other
from hub_web.entrypoints.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    WebSession,
    check_login_csrf,
    clear_cookie,
    current_session,
    new_login_token,
    optional_session,
    set_cookie,
    signed_in_poster,
)
from hub_web.service_layer.ports import HubApiPort

HOMES = {
    "link_worker": "/worker",
    "coordinator": "/coordinator",
    "agency": "/referrer",
    "organisation": "/organisation",
}
LOGIN_FORM_SECONDS = 3600


def principal_of(user: DemoUser) -> Principal:
    return Principal(
        role=user.role,
        subject=user.subject,
        organisation=user.organisation,
        sources=tuple(user.sources),
        boroughs=tuple(user.boroughs),
        name=user.name,
    )


def session_router(settings: WebSettings, api: HubApiPort) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def home(
        request: Request, session: Annotated[WebSession, Depends(current_session)]
    ) -> Response:
        """Each role's own start page."""
        home = HOMES.get(session.caller.principal.role)
        if home is None:
            return error_page(request, 403, "No pages for your role", "Operators use the APIs.")
        return see_other(home)

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        """The sign-in page: demo users (when enabled), or a token from the hub's CLI."""
        token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
        response = render(
            request,
            "login.html",
            optional_session(request),
            title="Sign in",
            demo_users=settings.demo_users if settings.demo_login else [],
            login_csrf=token,
            error=request.query_params.get("failed") and "That token was not accepted.",
        )
        set_cookie(response, settings, LOGIN_COOKIE, token, LOGIN_FORM_SECONDS)
        return response

    @router.post("/login", dependencies=[Depends(check_login_csrf)])
    async def login(
        user: Annotated[str, Form(max_length=200)] = "",
        token: Annotated[str, Form(max_length=4000)] = "",
    ) -> Response:
        """Sign in as a demo user, or with a token `referral-hub credentials issue` printed."""
        if user:
            demo = next((u for u in settings.demo_users if u.subject == user), None)
            if demo is None or not settings.demo_login:
                return see_other("/login?failed=1")
            token = issue_token(
                settings.auth_secret,
                principal_of(demo),
                ttl_seconds=int(settings.session_hours * 3600),
            )
        try:
            verify_token(settings.auth_secret, token.strip())
        except InvalidCredentials:
            return see_other("/login?failed=1")
        response = see_other("/")
        set_cookie(
            response, settings, SESSION_COOKIE, token.strip(), int(settings.session_hours * 3600)
        )
        clear_cookie(response, settings, LOGIN_COOKIE)
        return response

    @router.post("/logout", dependencies=[Depends(signed_in_poster)])
    async def logout() -> Response:
        """Forget the session cookie (the token itself simply expires)."""
        response = see_other("/login")
        clear_cookie(response, settings, SESSION_COOKIE)
        return response

    async def apis_answer() -> bool:
        return all((await api.ready()).values())

    router.include_router(health_router({"router and notifier": apis_answer}))
    return router
