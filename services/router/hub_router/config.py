"""The router service's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hub_common.settings import InfraSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


class RouterSettings(InfraSettings):
    """Where the router listens, and how offers behave."""

    http_host: str = Field(default="127.0.0.1", alias="ROUTER_HTTP_HOST")
    http_port: int = Field(default=8002, alias="ROUTER_HTTP_PORT")
    max_failed_offers: int = Field(default=3, alias="ROUTER_MAX_FAILED_OFFERS")
