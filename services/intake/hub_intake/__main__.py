"""`python -m hub_intake`: run the intake service."""

from __future__ import annotations

import uvicorn

from hub_common.logs import configure_logging
from hub_intake.bootstrap import build_app
from hub_intake.config import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level)
    uvicorn.run(
        build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )


if __name__ == "__main__":
    main()
