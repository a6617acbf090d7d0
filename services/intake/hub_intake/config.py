"""The intake service's settings (environment variables; defaults suit a local run)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hub_common.settings import InfraSettings

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


class IntakeSettings(InfraSettings):
    """Where intake listens and how many messages it takes at once (how big one may be is
    the shared `agency_message_max_bytes`, since the inbound topics must agree with it)."""

    http_host: str = Field(default="127.0.0.1", alias="INTAKE_HTTP_HOST")
    http_port: int = Field(default=8001, alias="INTAKE_HTTP_PORT")
    notifier_url: str = Field(
        default="http://127.0.0.1:8003",
        alias="INTAKE_NOTIFIER_URL",
        description="The notifier's public address: where intake's answers point an agency to "
        "read its referral and follow its Task",
    )
    batch_size: int = Field(
        default=200,
        alias="INTAKE_BATCH_SIZE",
        description="Most messages consumed in one transaction",
    )
