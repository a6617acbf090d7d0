"""`python -m hub_notifier`: run the notifier service."""

from __future__ import annotations

import uvicorn

from hub_common.logs import configure_logging
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging("notifier", settings.log_level)
    uvicorn.run(
        build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )


if __name__ == "__main__":
    main()
