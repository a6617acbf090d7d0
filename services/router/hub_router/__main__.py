"""`python -m hub_router`: run the router service."""

from __future__ import annotations

from hub_common.http.serve import serve
from hub_router.bootstrap import build_app
from hub_router.config import RouterSettings

if __name__ == "__main__":
    serve("router", RouterSettings(), build_app)
