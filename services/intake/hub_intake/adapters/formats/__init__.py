"""The registry of agency formats: adding one is a new module and one line here."""

from __future__ import annotations

from hub_intake.adapters.formats.base import InboundFormat
from hub_intake.adapters.formats.community import CommunityFormat
from hub_intake.adapters.formats.fhir_bundle import FhirBundleFormat
from hub_intake.adapters.formats.fire import FireFormat
from hub_intake.adapters.formats.housing import HousingFormat
from hub_intake.adapters.formats.police import PoliceFormat


def registered_formats() -> dict[str, InboundFormat]:
    formats: list[InboundFormat] = [
        CommunityFormat(),
        FhirBundleFormat(),
        PoliceFormat(),
        FireFormat(),
        HousingFormat(),
    ]
    return {fmt.source: fmt for fmt in formats}
