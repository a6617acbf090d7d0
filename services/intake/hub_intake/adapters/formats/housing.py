"""Housing associations: a CSV batch with a header row and one referral per row."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.outcome import Issue
from hub_intake.adapters.formats.base import (
    EXAMPLES,
    SCHEMAS,
    Reading,
    ReferrerContact,
    UnreadableMessage,
)
from hub_intake.adapters.formats.names import split_full_name
from hub_intake.adapters.formats.reading import FieldReader
from hub_intake.adapters.formats.requirements import require_consent, require_way_to_reach
from hub_intake.adapters.formats.text_encoding import utf8_text
from hub_intake.adapters.formats.versions import SchemaVersions
from hub_intake.domain.need_words import needs_in
from hub_intake.domain.referral import Address, Consent, Need, Person, Referral

EXTRA_CELLS = "(extra cells)"  # where a row's cells beyond the header are kept


class HousingFormat:
    source = "housing"
    json_schema_file = SCHEMAS / "housing-row.schema.json"
    example_file = EXAMPLES / "housing-tenancy-referrals.csv"
    # A CSV file has nowhere to name a version: its header row says which columns it has.
    versions: SchemaVersions | None = None

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        return [self.read_row(row, f"row {line}", received_at) for line, row in self._rows(body)]

    @staticmethod
    def _rows(body: bytes) -> list[tuple[int, dict[str, object]]]:
        """(line number, row keyed by column) for every non-blank row; the header is line 1."""
        # utf8_text drops a byte-order mark and names what is not UTF-8; newline="" lets csv
        # handle Windows line endings; skipinitialspace reads `a, "b, c"` as two cells, as
        # whoever typed it meant.
        text = utf8_text(body, "CSV document")
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        rows: list[tuple[int, list[str]]] = []
        line = 1
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append((line, cells))
                line = reader.line_num + 1  # a quoted cell may span lines
        except csv.Error as error:
            raise UnreadableMessage(f"not CSV at line {line}: {error}") from None
        if not rows:
            raise UnreadableMessage("the CSV document is empty")
        # Headers are matched liberally: `Landlord Ref ` names landlord_ref.
        header = [re.sub(r"[\s-]+", "_", name.strip().lower()) for name in rows[0][1]]
        if "landlord_ref" not in header:
            first_line = text.lstrip().split("\n", 1)[0]
            if ";" in first_line and "landlord_ref" in first_line.lower().replace(" ", "_"):
                raise UnreadableMessage(
                    "the columns are separated by semicolons (;), as some spreadsheets save "
                    "CSV; the hub expects commas (,) between columns: save as "
                    "'CSV (comma delimited)'"
                )
            raise UnreadableMessage(
                "no header row: the first line must name the columns (landlord_ref, ...)"
            )
        if len(rows) == 1:
            raise UnreadableMessage("the CSV document has a header row but no referrals")
        return [(line, _keyed(header, cells)) for line, cells in rows[1:]]

    def read_row(self, row: dict[str, object], item: str, received_at: datetime) -> Reading:
        issues: list[Issue] = []
        f = FieldReader(row, issues)
        landlord = f.required_text("landlord", "the landlord")
        contact = ReferrerContact(
            organisation=landlord,
            name=f.text("officer_name"),
            email=f.text("officer_email"),
            phone=f.text("officer_phone"),  # not in the format, but read when a landlord adds it
        )
        reference = f.required_text("landlord_ref", "landlord_ref (the referrer's reference)")
        reading = Reading(reference, row, contact, issues=issues, item=item)

        tenant = f.required_text("tenant_name", "the tenant's name")
        name = split_full_name(tenant) if tenant else None
        if tenant and name is None:
            issues.append(Issue("tenant_name", "a title alone is not the tenant's name"))
        postcode = f.postcode("postcode")
        address, phone, email = f.text("address"), f.text("phone"), f.text("email")
        require_way_to_reach(
            issues, "phone", "the tenant (phone, email or address)", phone, email, address
        )
        require_way_to_reach(
            issues, "officer_email", "the housing officer (email)", contact.email, contact.phone
        )
        require_consent(issues, "consent", f.flag("consent"))
        birth_date = f.birth_date("date_of_birth", received_at.date())
        nhs_number = f.nhs_number("nhs_number")
        needs = [need for word in f.string_list("support_needs") for need in needs_in(word)]
        if arrears := _arrears(f):
            needs.append(Need(NeedCategory.MONEY_DEBT_BENEFITS, f"rent arrears of £{arrears}"))
        notes = [note for note in (f.text("notes"), _extra_cells(row, issues)) if note]

        if reference is None or any(issue.is_error for issue in issues):
            return reading
        assert name and postcode and landlord  # guaranteed by the checks above
        reading.referral = Referral(
            source=self.source,
            referrer_reference=reference,
            person=Person(
                given_names=name[0],
                family_name=name[1],
                birth_date=birth_date,
                address=Address(lines=(address,) if address else (), postcode=postcode),
                phone=phone,
                email=email,
                nhs_number=nhs_number,
            ),
            referrer=contact.referrer(landlord, "housing_association"),
            # The batch says only that consent was given, not when or how.
            consent=Consent(given=True),
            needs=tuple(needs),
            authored_on=received_at,
            notes=tuple(notes),
        )
        return reading


def _keyed(header: list[str], cells: list[str]) -> dict[str, object]:
    """A row as a JSON-ready object: a short row's missing cells are None, extra ones a list."""
    row: dict[str, object] = {name: None for name in header}
    row.update(zip(header, cells, strict=False))
    if len(cells) > len(header):
        row[EXTRA_CELLS] = cells[len(header) :]
    return row


def _arrears(f: FieldReader) -> Decimal | None:
    """Arrears in pounds when above zero; `£1,240.50` is read as 1240.50."""
    text = f.text("rent_arrears_gbp")
    if text is None:
        return None
    try:
        amount = Decimal(text.replace("£", "").replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:  # not a number, or too large to be one in pounds and pence
        amount = Decimal("NaN")
    if not amount.is_finite():
        f.issues.append(
            Issue(
                "rent_arrears_gbp",
                "not an amount in pounds; it was left out",
                severity="warning",
                code="value",
            )
        )
        return None
    return amount if amount > 0 else None


def _extra_cells(row: dict[str, object], issues: list[Issue]) -> str | None:
    """Cells beyond the header, most likely free text split by an unquoted comma: kept."""
    extra = row.get(EXTRA_CELLS)
    if not isinstance(extra, list):
        return None
    issues.append(
        Issue(
            EXTRA_CELLS,
            f"{len(extra)} more cell(s) than the header has columns; kept as a note",
            severity="warning",
            code="structure",
        )
    )
    text = ", ".join(str(cell).strip() for cell in extra if str(cell).strip())
    return f"Unlabelled cells: {text}" if text else None
