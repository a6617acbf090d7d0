"""The machine-readable contract of each service: AsyncAPI (topics) and OpenAPI (HTTP).

Outgoing events are published by the outbox relay, not by FastStream publishers, so each
service declares what it publishes here, for the AsyncAPI document only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from hub_common.agency_formats import agency_formats
from hub_common.fhir.systems import referrer_reference_system

Publication = tuple[str, Any]
"""What a topic carries: a description, and the type of its messages (its payload schema,
one of hub_common.messaging.messages)."""


def declare_publications(broker: KafkaBroker, publications: dict[str, Publication]) -> None:
    """Record `topic -> (description, message type)` of what this service publishes
    (documentation only)."""
    for topic, (description, message) in publications.items():
        broker.publisher(topic, title=f"publishes:{topic}", description=description, schema=message)


def asyncapi_document(app: FastAPI, title: str) -> dict[str, Any]:
    broker: KafkaBroker = app.state.broker
    spec = AsyncAPI(
        broker, title=f"Referral hub: {title}", version=app.version, schema_version="3.0.0"
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def referrer_reference_naming_systems() -> dict[str, dict[str, Any]]:
    """A NamingSystem for each registered format's referrer-reference identifier system, by its
    path under schemas/ (so a new format's system is published without a hand-made file)."""
    documents: dict[str, dict[str, Any]] = {}
    for fmt in agency_formats():
        words = fmt.source.split("-")
        documents[f"fhir/NamingSystem-referrer-ref-{fmt.source}.json"] = {
            "resourceType": "NamingSystem",
            "id": f"referrer-ref-{fmt.source}",
            "name": "ReferrerRef" + "".join(word.capitalize() for word in words),
            "status": "active",
            "kind": "identifier",
            "date": "2026-01-01",
            "publisher": "Referral hub",
            "responsible": "Referral hub",
            "description": "The referrer's own reference for a referral that came from the "
            f"`{fmt.source}` source.",
            "uniqueId": [
                {"type": "uri", "value": referrer_reference_system(fmt.source), "preferred": True}
            ],
        }
    return documents
