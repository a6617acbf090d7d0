"""The composition root of the web app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from hub_common.observability import tracing
from hub_common.observability.metrics import expose as expose_metrics
from hub_web.adapters.hub_api import BROWSER_ADDRESS, HubApi
from hub_web.config import WebSettings
from hub_web.entrypoints.http_coordinator import coordinator_router
from hub_web.entrypoints.http_organisation import organisation_router
from hub_web.entrypoints.http_referrer import referrer_router
from hub_web.entrypoints.http_reports import report_router
from hub_web.entrypoints.http_services import services_router
from hub_web.entrypoints.http_session import session_router
from hub_web.entrypoints.http_worker import worker_router
from hub_web.entrypoints.pages import HERE, build_templates, install_page_handlers
from hub_web.service_layer.coordinator_desk import CoordinatorDesk
from hub_web.service_layer.organisation_desk import OrganisationDesk
from hub_web.service_layer.ports import HubApiPort
from hub_web.service_layer.referrer_desk import ReferrerDesk
from hub_web.service_layer.service_finder import ServiceFinder
from hub_web.service_layer.worker_desk import WorkerDesk


def build_app(settings: WebSettings | None = None, api: HubApiPort | None = None) -> FastAPI:
    """The web app: session pages, one router per role, static CSS; no database, no broker.

    `api` replaces the hub's real APIs (tests of the pages alone).
    """
    settings = settings or WebSettings()
    client = httpx.AsyncClient(timeout=settings.api_timeout_seconds)
    tracing.instrument_httpx(client)  # the APIs' spans join the page's trace
    if api is None:
        api = HubApi(
            client,
            intake_url=settings.intake_url,
            router_url=settings.router_url,
            notifier_url=settings.notifier_url,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    # Pages, not an API: no OpenAPI document or docs (the APIs it calls have theirs).
    app = FastAPI(
        title="Referral hub: web",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.auth_secret = settings.auth_secret  # /metrics takes an operator's token
    app.state.templates = build_templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(session_router(settings, api))
    app.include_router(worker_router(WorkerDesk(api, settings.wellbeing_instrument)))
    app.include_router(services_router(ServiceFinder(api)))
    app.include_router(coordinator_router(CoordinatorDesk(api)))
    app.include_router(referrer_router(ReferrerDesk(api)))
    app.include_router(organisation_router(OrganisationDesk(api)))
    app.include_router(report_router(api))
    install_page_handlers(app)
    tracing.instrument_app(app)
    # HTTP latency by route, and the process; the web app has no broker or database.
    expose_metrics(app, CollectorRegistry())

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        """Browsers ask for /favicon.ico whatever the page says: the same icon."""
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.middleware("http")
    async def remember_browser_address(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        BROWSER_ADDRESS.set(request.client.host if request.client else None)
        return await call_next(request)

    return app
