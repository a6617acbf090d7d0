"""Signed-in sessions: the hub's own token in an HttpOnly cookie, and CSRF protection.

The cookie holds the same signed token every API accepts, so the app keeps no session store;
`SameSite=Strict` keeps other sites from sending it, and every form also carries a CSRF token
derived from the session token (HMAC with the hub secret), checked on each POST: no storage,
and it changes with every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response

from hub_common.security.auth import InvalidCredentials, Role, verify_token
from hub_web.config import WebSettings
from hub_web.service_layer.ports import Caller

SESSION_COOKIE = (
    "hub_session"  # the name hub_common.security.auth.principal_from_request also reads
)
LOGIN_COOKIE = "hub_login"  # the sign-in form's own CSRF token, before any session exists
CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    """No session, or one whose token has expired or was not signed by this hub."""


class WrongRole(Exception):
    """Signed in, but the page belongs to another role."""


class CsrfRefused(Exception):
    """A form came back without this session's CSRF token: not sent by our own page."""


@dataclass(frozen=True)
class WebSession:
    """The signed-in person, and the CSRF token their forms must carry."""

    caller: Caller
    csrf: str

    @property
    def display_name(self) -> str:
        principal = self.caller.principal
        return principal.name or principal.subject


def csrf_token(secret: str, session_token: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def optional_session(request: Request) -> WebSession | None:
    """The session, if a valid one is present."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    secret = settings_of(request).auth_secret
    try:
        principal = verify_token(secret, token)
    except InvalidCredentials:
        return None
    return WebSession(Caller(principal, token), csrf_token(secret, token))


def current_session(request: Request) -> WebSession:
    session = optional_session(request)
    if session is None:
        raise SignInRequired
    return session


def _with_role(request: Request, roles: tuple[Role, ...]) -> WebSession:
    session = current_session(request)
    if session.caller.principal.role not in roles:
        raise WrongRole
    return session


async def _check_csrf(request: Request, expected: str) -> None:
    form = await request.form()  # Starlette caches it: the route's Form fields read it again
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise CsrfRefused


# The dependencies below take only `request`: FastAPI reads parameter annotations, and one
# naming a closure variable cannot be resolved under `from __future__ import annotations`.


def viewer(*roles: Role) -> Callable[[Request], WebSession]:
    """A dependency for pages of `roles`: sign-in first, then the role."""

    def dependency(request: Request) -> WebSession:
        return _with_role(request, roles)

    return dependency


def poster(*roles: Role) -> Callable[[Request], Awaitable[WebSession]]:
    """A dependency for form posts of `roles`: sign-in, role, and this session's CSRF token."""

    async def dependency(request: Request) -> WebSession:
        session = _with_role(request, roles)
        await _check_csrf(request, session.csrf)
        return session

    return dependency


async def signed_in_poster(request: Request) -> WebSession:
    """Any role's form post (signing out)."""
    session = current_session(request)
    await _check_csrf(request, session.csrf)
    return session


async def check_login_csrf(request: Request) -> None:
    """The sign-in form's double-submit check: the field must match the cookie it came with."""
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie:
        raise CsrfRefused
    await _check_csrf(request, cookie)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(
    response: Response, settings: WebSettings, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )


def clear_cookie(response: Response, settings: WebSettings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies
    )
