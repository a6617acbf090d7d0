"""What the rest of the hub may import from the notifier: this module and nothing else.

The CLI, the benchmarks and the other services reach the notifier through its HTTP API, its
topics, or the names below; everything else under `hub_notifier` may change without notice
(`tests/unit/test_package_reach.py` fails when another package imports past this module).
Each name is here because an operator's command or a measurement needs it:

- running it: `build_app`, `NotifierSettings`, `MIGRATIONS` (`referral-hub db upgrade`, the
  contract documents of `schemas write`);
- what a webhook subscriber must know to subscribe and to check a delivery (`referral-hub demo
  webhooks`, the webhook benchmark): the subscription topic `TASK_TOPIC`, the extensions
  `FILTER_CRITERIA` and `SECRET_EXTENSION`, and the signature checks `verify` (the hub's
  `X-Hub-Signature`) and `verify_standard` (Standard Webhooks).
"""

from __future__ import annotations

from hub_notifier.adapters.fhir_subscription import FILTER_CRITERIA, SECRET_EXTENSION
from hub_notifier.bootstrap import build_app
from hub_notifier.config import MIGRATIONS, NotifierSettings
from hub_notifier.domain.notification import TASK_TOPIC
from hub_notifier.domain.signature import verify, verify_standard

__all__ = [
    "FILTER_CRITERIA",
    "MIGRATIONS",
    "SECRET_EXTENSION",
    "TASK_TOPIC",
    "NotifierSettings",
    "build_app",
    "verify",
    "verify_standard",
]
