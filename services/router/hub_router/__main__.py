"""`python -m hub_router`: run the router service."""

from __future__ import annotations

import uvicorn

from hub_common.logs import configure_logging
from hub_router.bootstrap import build_app
from hub_router.config import RouterSettings


def main() -> None:
    settings = RouterSettings()
    configure_logging("router", settings.log_level)
    uvicorn.run(
        build_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )


if __name__ == "__main__":
    main()
