"""The web app's settings (environment variables; defaults suit a local run)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub_common.fhir.systems import AGENCY_ID_SYSTEM
from hub_common.fhir.wellbeing import Instrument


class DemoUser(BaseModel):
    """Someone the demo sign-in page offers: the claims of the token it issues."""

    role: Literal["agency", "link_worker", "coordinator", "organisation"]
    subject: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=100, description="Shown on the sign-in page")
    organisation: str | None = Field(
        default=None,
        description="agency: `system|value`; organisation: its directory organisation id",
    )
    sources: list[str] = Field(default_factory=list, description="agency: formats it may send")
    boroughs: list[str] = Field(default_factory=list, description="coordinator: their boroughs")


CVA = f"{AGENCY_ID_SYSTEM}|community:croydon-voluntary-action"

DEFAULT_DEMO_USERS = [
    DemoUser(role="link_worker", subject="lw-croydon-01", name="Akosua Mensah"),
    DemoUser(
        role="coordinator",
        subject="coord-croydon",
        name="Croydon coordinator",
        boroughs=["Croydon"],
    ),
    DemoUser(
        role="agency",
        subject=CVA,
        name="Croydon Voluntary Action",
        organisation=CVA,
        sources=["community"],
    ),
    # A community organisation of the demo directory (deploy/demo/swl-services.oruk.json).
    DemoUser(
        role="organisation",
        subject="org-croydon-mind",
        name="Croydon Mind",
        organisation="17d2deba-c6ea-5209-8a87-9589b2204a6a",
    ),
]


class WebSettings(BaseSettings):
    """Where the web app listens, which APIs it calls, and how sessions work."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    http_host: str = Field(default="127.0.0.1", alias="WEB_HTTP_HOST")
    http_port: int = Field(default=8000, alias="WEB_HTTP_PORT")
    intake_url: str = Field(default="http://127.0.0.1:8001", alias="INTAKE_URL")
    router_url: str = Field(default="http://127.0.0.1:8002", alias="ROUTER_URL")
    notifier_url: str = Field(default="http://127.0.0.1:8003", alias="NOTIFIER_URL")
    api_timeout_seconds: float = Field(
        default=10.0, gt=0, alias="WEB_API_TIMEOUT_SECONDS", description="Longest wait for an API"
    )
    auth_secret: str = Field(
        default="dev-only-referral-hub-secret-change-me",
        alias="HUB_AUTH_SECRET",
        description="The hub's token secret: demo sign-in issues tokens every API accepts",
    )
    session_hours: float = Field(
        default=8.0, gt=0, alias="WEB_SESSION_HOURS", description="How long a demo sign-in lasts"
    )
    secure_cookies: bool = Field(
        default=False,
        alias="WEB_SECURE_COOKIES",
        description="Mark cookies Secure (set it whenever the app is served over HTTPS)",
    )
    demo_login: bool = Field(
        default=True,
        alias="WEB_DEMO_LOGIN",
        description="Offer the demo users on the sign-in page (turn off outside demonstrations)",
    )
    demo_users: list[DemoUser] = Field(
        default_factory=lambda: list(DEFAULT_DEMO_USERS),
        alias="WEB_DEMO_USERS",
        description="The demo users, as a JSON list of DemoUser objects",
    )
    wellbeing_instrument: Instrument = Field(
        default=Instrument.ONS4,
        alias="HUB_WELLBEING_INSTRUMENT",
        description="The region's wellbeing measure, taken at first contact and closure: "
        "ons4 or swemwbs",
    )
    log_level: str = Field(default="INFO", alias="HUB_LOG_LEVEL")
    log_format: Literal["json", "text"] = Field(
        default="json",
        alias="HUB_LOG_FORMAT",
        description="json: one JSON object a line, for log collectors; text: for people at a "
        "terminal. Either way a line carries the trace id when there is one",
    )
