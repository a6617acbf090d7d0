"""`fire-safe-and-well/1`: the fire service, after a Safe and Well home visit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_common.fhir.outcome import Issue
from hub_intake.adapters.formats.base import EXAMPLES, SCHEMAS, Reading, ReferrerContact
from hub_intake.adapters.formats.json_body import json_object
from hub_intake.adapters.formats.names import split_full_name
from hub_intake.adapters.formats.reading import FieldReader
from hub_intake.adapters.formats.requirements import require_consent, require_way_to_reach
from hub_intake.adapters.formats.versions import SchemaVersions
from hub_intake.domain.need_words import need_category, needs_in
from hub_intake.domain.referral import Address, Consent, Need, Person, Referral

VERSIONS = SchemaVersions(("fire-safe-and-well/1",))


class FireFormat:
    source = "fire"
    json_schema_file = SCHEMAS / "fire.schema.json"
    example_file = EXAMPLES / "fire-safe-and-well.json"
    versions: SchemaVersions | None = VERSIONS

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        return [self.read_document(json_object(body, self.versions), received_at)]

    def read_document(self, document: dict[str, Any], received_at: datetime) -> Reading:
        issues: list[Issue] = []
        f = FieldReader(document, issues)
        brigade = f.required_text("brigade", "the fire and rescue service")
        contact = ReferrerContact(
            organisation=brigade,
            name=f.text("crew_contact.name"),
            email=f.text("crew_contact.email"),
            phone=f.text("crew_contact.phone"),
        )
        reference = f.required_text("visit_id", "visit_id (the referrer's reference)")
        reading = Reading(reference, document, contact, issues=issues)

        name = self._name(f)
        postcode = f.postcode("occupant.postcode")
        address, phone = f.text("occupant.address"), f.text("occupant.phone")
        require_way_to_reach(issues, "occupant", "the occupant (phone or address)", phone, address)
        require_way_to_reach(
            issues,
            "crew_contact",
            "the crew contact (email or phone)",
            contact.email,
            contact.phone,
        )
        consent_given = f.flag("consent_to_share")
        require_consent(issues, "consent_to_share", consent_given)
        birth_date = f.birth_date("occupant.dob", received_at.date())
        nhs_number = f.nhs_number("occupant.nhs_number")
        visited_on = f.moment("visited_on")
        needs, other_factors = self._risk_factors(f)
        needs += [need for reason in f.string_list("referral_reasons") for need in needs_in(reason)]
        notes = [f"Also noted on the visit: {', '.join(other_factors)}"] if other_factors else []
        if crew_notes := f.text("notes"):
            notes.append(crew_notes)

        if reference is None or any(issue.is_error for issue in issues):
            return reading
        assert name and postcode and brigade  # guaranteed by the checks above
        reading.referral = Referral(
            source=self.source,
            referrer_reference=reference,
            person=Person(
                given_names=name[0],
                family_name=name[1],
                birth_date=birth_date,
                address=Address(lines=(address,) if address else (), postcode=postcode),
                phone=phone,
                nhs_number=nhs_number,
            ),
            referrer=contact.referrer(brigade, "fire_service"),
            # Consent is asked for on the visit itself.
            consent=Consent(given=True, recorded_at=visited_on, method="Safe and Well visit"),
            needs=tuple(needs),
            authored_on=visited_on or received_at,
            notes=tuple(notes),
        )
        return reading

    @staticmethod
    def _name(f: FieldReader) -> tuple[tuple[str, ...], str] | None:
        full = f.required_text("occupant.name", "the occupant's name")
        name = split_full_name(full) if full else None
        if full and name is None:
            f.issues.append(
                Issue("occupant.name", "a title alone is not the occupant's name", code="value")
            )
        return name

    @staticmethod
    def _risk_factors(f: FieldReader) -> tuple[list[Need], list[str]]:
        """Factors seen on the visit: needs where a factor names one, the rest as words."""
        factors = f.raw("risk_factors")
        if factors is not None and not isinstance(factors, dict):
            f.issues.append(Issue("risk_factors", "expected an object of yes/no answers"))
            return [], []
        needs: list[Need] = []
        others: list[str] = []
        for key in factors or {}:
            # Keys are the brigade's; one with a dot could not be read back as a path.
            if "." in key or not f.flag(f"risk_factors.{key}"):
                continue
            words = key.replace("_", " ").strip()
            category = need_category(key)
            if category is not None:
                needs.append(Need(category, words))
            elif words:
                others.append(words)
        return needs, others
