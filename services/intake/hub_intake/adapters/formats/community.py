"""`community-referral/1`: social care, councils, councillors, community groups, self-referral."""

from __future__ import annotations

from datetime import datetime

from hub_common.fhir.outcome import Issue
from hub_intake.adapters.formats.base import EXAMPLES, SCHEMAS, Reading, ReferrerContact
from hub_intake.adapters.formats.json_body import json_object
from hub_intake.adapters.formats.reading import FieldReader
from hub_intake.adapters.formats.versions import SchemaVersions
from hub_intake.domain.need_words import need_category
from hub_intake.domain.referral import Address, Consent, Need, Person, Referral

ORGANISATION_TYPES = (
    "social_care",
    "council",
    "councillor",
    "residents_association",
    "community_group",
    "voluntary_sector",
    "self",
)
VERSIONS = SchemaVersions(("community-referral/1",))


class CommunityFormat:
    source = "community"
    json_schema_file = SCHEMAS / "community.schema.json"
    example_file = EXAMPLES / "community-referral.json"
    versions: SchemaVersions | None = VERSIONS

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        return [self.read_document(json_object(body, self.versions), received_at)]

    def read_document(self, document: dict[str, object], received_at: datetime) -> Reading:
        issues: list[Issue] = []
        f = FieldReader(document, issues)
        contact = ReferrerContact(
            organisation=f.text("referrer.organisation"),
            name=f.text("referrer.name"),
            email=f.text("referrer.email"),
            phone=f.text("referrer.phone"),
        )
        reading = Reading(f.text("form_id"), document, contact, issues=issues)
        if reading.referrer_reference is None:
            issues.append(
                Issue("form_id", "form_id (the referrer's reference) is required", code="required")
            )

        given = f.required_text("person.given_name", "the person's given name")
        family = f.required_text("person.family_name", "the person's family name")
        postcode = f.postcode("person.postcode")
        phone, email, address = (
            f.text("person.phone"),
            f.text("person.email"),
            f.text("person.address"),
        )
        if not (phone or email or address):
            issues.append(
                Issue(
                    "person",
                    "a way to reach the person (phone, email or address) is required",
                    code="required",
                )
            )
        organisation = f.required_text("referrer.organisation", "the referrer's organisation")
        if not (contact.email or contact.phone):
            issues.append(
                Issue(
                    "referrer",
                    "a way to reach the referrer (email or phone) is required",
                    code="required",
                )
            )
        organisation_type = f.text("referrer.organisation_type") or "community_group"
        if organisation_type not in ORGANISATION_TYPES:
            issues.append(
                Issue(
                    "referrer.organisation_type",
                    f"unknown organisation type; expected one of {', '.join(ORGANISATION_TYPES)}",
                    severity="warning",
                    code="value",
                )
            )
        consent = f.flag("consent")
        if consent is not True:
            issues.append(
                Issue("consent", "recorded consent to share is required", code="required")
            )
        birth_date = f.birth_date("person.date_of_birth", received_at.date())
        nhs_number = f.nhs_number("person.nhs_number")
        # moment(), not timestamp(): kept in UTC, as FHIR cannot write an offset with seconds.
        submitted_at = f.moment("submitted_at") or received_at

        needs = [Need(need_category(word), word) for word in f.string_list("needs")]
        what_matters = f.text("what_matters")
        best_contact_time = f.text("best_contact_time")
        # Read before deciding: a malformed value must refuse the referral, not follow it.
        language = f.language("person.language")
        interpreter_required = f.flag("person.interpreter_required")
        if reading.referrer_reference is None or any(issue.is_error for issue in issues):
            return reading
        assert given and family and postcode and organisation  # guaranteed by the checks above
        reading.referral = Referral(
            source=self.source,
            referrer_reference=reading.referrer_reference,
            person=Person(
                given_names=tuple(given.split()),
                family_name=family,
                birth_date=birth_date,
                address=Address(lines=(address,) if address else (), postcode=postcode),
                phone=phone,
                email=email,
                nhs_number=nhs_number,
                language=language,
                interpreter_needed=interpreter_required or False,
            ),
            referrer=contact.referrer(organisation, organisation_type),
            consent=Consent(given=True, recorded_at=submitted_at, method="referral form"),
            needs=tuple(needs),
            authored_on=submitted_at,
            notes=tuple(note for note in (what_matters, best_contact_time) if note),
        )
        return reading
