"""The notifier service's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hub_common.settings import InfraSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


class NotifierSettings(InfraSettings):
    """Where the notifier listens."""

    http_host: str = Field(default="127.0.0.1", alias="NOTIFIER_HTTP_HOST")
    http_port: int = Field(default=8003, alias="NOTIFIER_HTTP_PORT")
