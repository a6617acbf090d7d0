"""`police-vulnerability-referral/1`: police forces, after a welfare or vulnerability concern."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_common.fhir.outcome import Issue
from hub_intake.adapters.formats.base import EXAMPLES, SCHEMAS, Reading, ReferrerContact
from hub_intake.adapters.formats.json_body import json_object
from hub_intake.adapters.formats.reading import FieldReader
from hub_intake.adapters.formats.requirements import require_consent, require_way_to_reach
from hub_intake.adapters.formats.versions import SchemaVersions
from hub_intake.domain.need_words import needs_in
from hub_intake.domain.referral import Address, Consent, Person, Referral, RiskLevel

VERSIONS = SchemaVersions(("police-vulnerability-referral/1",))
RISK_LEVELS: tuple[RiskLevel, ...] = ("none", "low", "medium", "high")


class PoliceFormat:
    source = "police"
    json_schema_file = SCHEMAS / "police.schema.json"
    example_file = EXAMPLES / "police-vulnerability-referral.json"
    versions: SchemaVersions | None = VERSIONS

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        return [self.read_document(json_object(body, self.versions), received_at)]

    def read_document(self, document: dict[str, Any], received_at: datetime) -> Reading:
        issues: list[Issue] = []
        f = FieldReader(document, issues)
        force = f.text("force") or f.text("force_code")
        contact = ReferrerContact(
            organisation=force,
            name=f.text("officer.name"),
            email=f.text("officer.email"),
            phone=f.text("officer.phone"),
        )
        reference = f.required_text("occurrence_ref", "occurrence_ref (the referrer's reference)")
        reading = Reading(reference, document, contact, issues=issues)

        family = f.required_text("subject.surname", "the person's surname")
        forenames = f.text("subject.forenames")
        postcode = f.postcode("subject.address.postcode")
        line1, town = f.text("subject.address.line1"), f.text("subject.address.town")
        phone = f.text("subject.phone")
        require_way_to_reach(issues, "subject", "the person (phone or address)", phone, line1)
        if force is None and not any(issue.field.startswith("force") for issue in issues):
            issues.append(Issue("force", "the referring force is required", code="required"))
        require_way_to_reach(
            issues,
            "officer",
            "the referring officer (email or phone)",
            contact.email,
            contact.phone,
        )
        # Consent is an object; a bare yes/no in its place is read rather than refused.
        consent_path = "consent.given" if isinstance(f.raw("consent"), dict) else "consent"
        consent_given = f.flag(consent_path)
        require_consent(issues, consent_path, consent_given)
        risk = f.choice("risk_to_visitors", RISK_LEVELS) or "none"
        birth_date = f.birth_date("subject.date_of_birth", received_at.date())
        nhs_number = f.nhs_number("subject.nhs_number")
        language = f.language("subject.preferred_language")
        interpreter = f.flag("subject.needs_interpreter")
        reported_at = f.moment("reported_at")
        consented_at = f.moment("consent.recorded_at")
        consent_method = f.text("consent.method")
        risk_notes = f.text("risk_notes")
        needs = [need for word in f.string_list("concerns") for need in needs_in(word)]
        factors = [word.replace("_", " ") for word in f.string_list("vulnerability_factors")]
        notes = [f"Vulnerability factors: {', '.join(factors)}"] if factors else []
        if narrative := f.text("narrative"):
            notes.append(narrative)

        if reference is None or any(issue.is_error for issue in issues):
            return reading
        assert family and postcode and force  # guaranteed by the checks above
        reading.referral = Referral(
            source=self.source,
            referrer_reference=reference,
            person=Person(
                given_names=tuple(forenames.split()) if forenames else (),
                family_name=family,
                birth_date=birth_date,
                address=Address(lines=(line1,) if line1 else (), postcode=postcode, town=town),
                phone=phone,
                nhs_number=nhs_number,
                language=language,
                interpreter_needed=interpreter or False,
            ),
            referrer=contact.referrer(force, "police"),
            consent=Consent(
                given=True, recorded_at=consented_at or reported_at, method=consent_method
            ),
            needs=tuple(needs),
            authored_on=reported_at or received_at,
            risk_to_visitors=risk,
            risk_notes=risk_notes,
            notes=tuple(notes),
        )
        return reading
