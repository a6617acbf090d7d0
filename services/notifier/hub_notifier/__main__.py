"""`python -m hub_notifier`: run the notifier service."""

from __future__ import annotations

from hub_common.http.serve import serve
from hub_notifier.bootstrap import build_app
from hub_notifier.config import NotifierSettings

if __name__ == "__main__":
    serve("notifier", NotifierSettings(), build_app)
