"""`python -m hub_web`: run the web app."""

from __future__ import annotations

import uvicorn

from hub_common.logs import configure_logging
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings


def main() -> None:
    settings = WebSettings()
    configure_logging("web", settings.log_level)
    uvicorn.run(
        build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )


if __name__ == "__main__":
    main()
