"""Log configuration shared by the services.

The hub's logs carry ids and counts only: no name, NHS number, address or free text ever goes
into a log call. Messages about a referral name it by the hub's referral id.
"""

from __future__ import annotations

import logging
import sys


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports every reconnect attempt at ERROR; ours already say what is retried.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
