"""Every system, extension and profile URL of the hub's own that an emitted resource uses is
published in schemas/fhir, so FHIR tools can resolve what the hub writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub_common.fhir.systems import HUB_BASE
from tests.support.fhir_corpus import corpus

DEFINITIONS = Path(__file__).resolve().parents[2] / "schemas" / "fhir"
# A canonical with no R4 resource to publish it as (SubscriptionTopic is R5; the Backport
# names a topic by URL only): documented in schemas/fhir/README.md instead.
UNPUBLISHABLE = {f"{HUB_BASE}/SubscriptionTopic/referral-task"}


def published() -> set[str]:
    urls = set()
    for path in DEFINITIONS.glob("*.json"):
        definition = json.loads(path.read_text())
        if "url" in definition:
            urls.add(definition["url"])
        urls.update(unique["value"] for unique in definition.get("uniqueId", []))
    return urls


def hub_urls(value: Any) -> Iterator[str]:
    """Coding and Identifier systems, extension URLs and profiles under the hub's base."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("system", "url") and isinstance(item, str) and item.startswith(HUB_BASE):
                yield item
            elif key == "profile" and isinstance(item, list):
                yield from (p for p in item if isinstance(p, str) and p.startswith(HUB_BASE))
            else:
                yield from hub_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from hub_urls(item)


def test_every_hub_url_an_emitted_resource_uses_is_published() -> None:
    used = {url for resource in corpus().values() for url in hub_urls(resource)}
    assert used, "the corpus uses none of the hub's own systems: the walk is broken"
    assert sorted(used - published() - UNPUBLISHABLE) == []


def test_an_unpublished_system_is_caught() -> None:
    task = {"businessStatus": {"coding": [{"system": f"{HUB_BASE}/CodeSystem/nope", "code": "x"}]}}
    assert set(hub_urls(task)) - published() == {f"{HUB_BASE}/CodeSystem/nope"}
