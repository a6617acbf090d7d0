"""Credentials every hub API accepts: short-lived signed bearer tokens (JWT, HS256).

The services share nothing but events, so a token must be checkable by each of them alone:
it is signed with the hub's secret and names who holds it and what they may see. Nothing is
stored, so there is no key table to leak; tokens expire, and an operator issues new ones with
`referral-hub credentials issue`.

Roles:
- `agency`: a referring organisation (`organisation` is its identifier `system|value`; `sources`
  the inbound formats it may submit). It sees only its own referrals.
- `link_worker`: `subject` is the worker id; sees only Tasks they own or are offered.
- `coordinator`: `boroughs` they coordinate; sees referrals in those boroughs.
- `operator`: runs the hub (replays, dead letters) and its data-protection operations (subject
  access, hub_common/privacy/subject_access.py); does no casework, so it reads no referral through the
  casework APIs, and every export it makes is an audit entry.
- `organisation`: a community organisation of the services directory (`organisation` is its
  directory organisation id); sees only the onward referrals sent to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, Request, status

Role = Literal["agency", "link_worker", "coordinator", "operator", "organisation"]
ROLES: tuple[Role, ...] = ("agency", "link_worker", "coordinator", "operator", "organisation")
ISSUER = "referral-hub"
ALGORITHM = "HS256"


class InvalidCredentials(ValueError):
    """Why a token was refused, in words safe to return to the caller."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, and the scope of what they may see."""

    role: Role
    subject: str
    organisation: str | None = None
    sources: tuple[str, ...] = ()
    boroughs: tuple[str, ...] = ()
    name: str | None = field(default=None, compare=False)


def issue_token(
    secret: str, principal: Principal, ttl_seconds: int = 90 * 24 * 3600, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": principal.subject,
        "role": principal.role,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if principal.organisation:
        claims["org"] = principal.organisation
    if principal.sources:
        claims["sources"] = list(principal.sources)
    if principal.boroughs:
        claims["boroughs"] = list(principal.boroughs)
    if principal.name:
        claims["name"] = principal.name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidCredentials("the token has expired") from None
    except jwt.PyJWTError:
        raise InvalidCredentials("the token is not valid") from None
    role = claims.get("role")
    if role not in ROLES:
        raise InvalidCredentials("the token names no known role")
    if role == "agency" and not claims.get("org"):
        raise InvalidCredentials("an agency token must name its organisation")
    if role == "organisation" and not claims.get("org"):
        raise InvalidCredentials("an organisation token must name its directory organisation id")
    return Principal(
        role=role,
        subject=str(claims["sub"]),
        organisation=claims.get("org"),
        sources=tuple(claims.get("sources", ())),
        boroughs=tuple(claims.get("boroughs", ())),
        name=claims.get("name"),
    )


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def principal_from_request(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <token>` (or the web app's session cookie)."""
    secret: str = request.app.state.auth_secret
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not token and (cookie := request.cookies.get("hub_session")):
        scheme, token = "bearer", cookie
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("credentials required: send Authorization: Bearer <token>")
    try:
        return verify_token(secret, token.strip())
    except InvalidCredentials as error:
        raise _unauthorised(str(error)) from None


def require(*roles: Role) -> Callable[..., Principal]:
    """A FastAPI dependency admitting only `roles` (403 for others, 401 without credentials)."""

    def dependency(principal: Annotated[Principal, Depends(principal_from_request)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this needs the role {' or '.join(roles)}"
            )
        return principal

    return dependency


def allowed_roles(principal: Principal, roles: Sequence[Role]) -> bool:
    return principal.role in roles
