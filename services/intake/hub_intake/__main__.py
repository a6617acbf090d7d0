"""`python -m hub_intake`: run the intake service."""

from __future__ import annotations

from hub_common.http.serve import serve
from hub_intake.bootstrap import build_app
from hub_intake.config import IntakeSettings

if __name__ == "__main__":
    serve("intake", IntakeSettings(), build_app)
