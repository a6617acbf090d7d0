"""deploy/compose.yaml runs like a deployment, not a demo: no default signing secret, no demo
logins, and a mail server the notifier really sends to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
HUB_SERVICES = ("setup", "intake", "router", "notifier", "web")


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return dict(loaded["services"])


def test_every_hub_process_must_be_given_the_signing_secret() -> None:
    """`${VAR:?message}`: Compose refuses to start without it, and there is no fallback."""
    for name in HUB_SERVICES:
        secret = services()[name]["environment"]["HUB_AUTH_SECRET"]
        assert secret.startswith("${HUB_AUTH_SECRET:?"), (name, secret)
        assert ":-" not in secret and "dev-only" not in secret, name


def test_the_web_app_offers_no_demo_logins() -> None:
    assert services()["web"]["environment"]["WEB_DEMO_LOGIN"] == "false"


def test_the_notifier_sends_mail_to_a_server_that_is_part_of_the_stack() -> None:
    every = services()
    notifier = every["notifier"]
    host = notifier["environment"]["NOTIFIER_SMTP_HOST"]
    assert host == "${NOTIFIER_SMTP_HOST:-mailpit}"
    assert "mailpit" in every
    assert notifier["environment"]["NOTIFIER_SMTP_PORT"] == "${NOTIFIER_SMTP_PORT:-1025}"
    assert notifier["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert "1025" not in str(every["mailpit"].get("ports", []))  # reachable by the stack only
