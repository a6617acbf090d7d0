"""The machine-readable contract of each service: AsyncAPI (topics) and OpenAPI (HTTP).

Outgoing events are published by the outbox relay, not by FastStream publishers, so each
service declares what it publishes here, for the AsyncAPI document only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI


def declare_publications(broker: KafkaBroker, publications: dict[str, str]) -> None:
    """Record `topic -> description` of what this service publishes (documentation only)."""
    for topic, description in publications.items():
        broker.publisher(topic, title=f"publishes:{topic}", description=description)


def asyncapi_document(app: FastAPI, title: str) -> dict[str, Any]:
    broker: KafkaBroker = app.state.broker
    spec = AsyncAPI(
        broker, title=f"Referral hub: {title}", version=app.version, schema_version="3.0.0"
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()
