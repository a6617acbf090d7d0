"""`python -m hub_web`: run the web service."""

from __future__ import annotations

from hub_common.http.serve import serve
from hub_web.bootstrap import build_app
from hub_web.config import WebSettings

if __name__ == "__main__":
    serve("web", WebSettings(), build_app)
