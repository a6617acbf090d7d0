"""Intake's example messages for `schemas/examples/`, built by its real mapping code.

The CLI's `schemas write` asks each service for its examples through its public module, so
the examples change only when the mapping code does (fixed ids and times in, fixed files out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_common.agency_formats import agency_formats
from hub_common.jsonio import dumps, loads
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats import reader_of
from hub_intake.adapters.formats.community import CommunityFormat
from hub_intake.service_layer.intake_events import rejection_event

REJECTION_ID = "5b1c0e7a-8d44-4d0e-b3f5-0a9c2c7e1f11"


def example_messages(
    community_referral: bytes, at: datetime, referral_id: str
) -> dict[str, dict[str, Any]]:
    """The ServiceRequest a community referral becomes, and the rejection of the same referral
    sent without consent, by the path of each under schemas/."""
    [reading] = CommunityFormat().read(community_referral, at)
    assert reading.referral is not None
    refused = loads(community_referral)
    refused["consent"] = False
    [refusal] = CommunityFormat().read(dumps(refused), at)
    return {
        "examples/referrals.requested.json": to_service_request(
            reading.referral, referral_id, referral_id
        ),
        "examples/referrals.rejected.json": rejection_event("community", at, refusal, REJECTION_ID),
    }


def inbound_documents() -> dict[str, str]:
    """Each registered format's JSON Schema (`inbound/<schema file>`) and example message
    (`examples/referrals.inbound.<source>.<suffix>`), by path under schemas/, copied as
    written (key order and all) from what its reader names: nothing per format by hand."""
    documents: dict[str, str] = {}
    for fmt in agency_formats():
        reader = reader_of(fmt)
        schema = reader.json_schema_file.read_text(encoding="utf-8")
        loads(schema)  # a schema that is not JSON fails here, naming nothing else
        documents[f"inbound/{reader.json_schema_file.name}"] = schema
        example = reader.example_file
        documents[f"examples/referrals.inbound.{fmt.source}{example.suffix}"] = example.read_text(
            encoding="utf-8"
        )
    return documents
