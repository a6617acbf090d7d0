"""Reading Open Referral UK service records into the hub's directory shape, checking each field.

Both shapes publishers use are read: ORUK 1 (`regular_schedules`, `eligibilitys`,
`service_taxonomys`, `physical_addresses`) and ORUK 3 / HSDS 3.0 (`schedules`,
`minimum_age`/`maximum_age`/`eligibility_description` on the service, `attributes` with their
`taxonomy_term`, `addresses`). A record that cannot be used is refused with every problem,
each naming its field as a path (e.g. `service_at_locations[0].location.latitude`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_common.region.directory import (
    ContactPoint,
    CostOption,
    DirectoryService,
    Opening,
    Organisation,
    Place,
    Term,
    needs_for_terms,
    vocabulary_system,
)

PUBLISHED_STATUSES = ("active", "temporarily closed")
WITHDRAWN_STATUSES = ("inactive", "defunct", "withdrawn", "closed")

RRULE_DAYS = {"MO": "mon", "TU": "tue", "WE": "wed", "TH": "thu", "FR": "fri", "SA": "sat", "SU": "sun"}  # fmt: skip
WEEKDAY_NAMES = {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun",
}  # fmt: skip
DAY_ORDER = {day: number for number, day in enumerate(RRULE_DAYS.values())}

UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RecordRefused(ValueError):
    """A record the directory cannot take; `problems` each name the field."""

    def __init__(self, service_id: str | None, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.service_id = service_id
        self.problems = problems


@dataclass(frozen=True)
class Withdrawal:
    """A record whose status says the service no longer runs."""

    id: str
    status: str
    last_modified: datetime | None = None


class _Checker:
    """Collects every problem of one record, each under its field path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def text(
        self, parent: dict[str, Any], key: str, path: str, required: bool = False
    ) -> str | None:
        value = parent.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(path, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.problem(path, f"expected text, got {type(value).__name__}")
            return None
        return str(value).strip()

    def objects(
        self, parent: dict[str, Any], key: str, path: str
    ) -> list[tuple[str, dict[str, Any]]]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, "expected a list")
            return []
        found = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                found.append((f"{path}[{index}]", item))
            else:
                self.problem(f"{path}[{index}]", "expected an object")
        return found

    def number(self, parent: dict[str, Any], key: str, path: str) -> float | None:
        value = parent.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.problem(path, "expected a number, got true/false")
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            self.problem(path, f"expected a number, got {str(value)[:40]!r}")
            return None

    def age(self, parent: dict[str, Any], key: str, path: str) -> int | None:
        value = self.number(parent, key, path)
        if value is None:
            return None
        if value < 0 or value > 130 or value != int(value):
            self.problem(path, f"expected a whole number of years from 0 to 130, got {value:g}")
            return None
        return int(value)

    def time(self, parent: dict[str, Any], key: str, path: str) -> str | None:
        value = self.text(parent, key, path)
        if value is None:
            return None
        match = TIME.match(value)
        if match is None:
            self.problem(path, f"expected a time HH:MM or HH:MM:SS, got {value[:20]!r}")
            return None
        return f"{match[1]}:{match[2]}:{match[3] or '00'}"

    def moment(self, parent: dict[str, Any], key: str, path: str) -> datetime | None:
        value = self.text(parent, key, path)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.problem(path, f"expected an ISO 8601 date-time, got {value[:40]!r}")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise_postcode(text: str) -> str | None:
    match = UK_POSTCODE.match(text.strip().upper())
    return f"{match[1]} {match[2]}" if match else None


def _organisation(check: _Checker, record: dict[str, Any]) -> Organisation | None:
    organisation = record.get("organization")
    if not isinstance(organisation, dict):
        check.problem("organization", "required (the provider that runs the service)")
        return None
    org_id = check.text(organisation, "id", "organization.id", required=True)
    name = check.text(organisation, "name", "organization.name", required=True)
    url = check.text(organisation, "website", "organization.website") or check.text(
        organisation, "url", "organization.url"
    )
    email = check.text(organisation, "email", "organization.email")
    if email and not EMAIL.match(email):
        check.problem("organization.email", "not an e-mail address")
        email = None
    if org_id is None or name is None:
        return None
    return Organisation(org_id, name, url, email)


def _place(check: _Checker, path: str, location: dict[str, Any]) -> Place | None:
    location_id = check.text(location, "id", f"{path}.id", required=True)
    latitude = check.number(location, "latitude", f"{path}.latitude")
    longitude = check.number(location, "longitude", f"{path}.longitude")
    if latitude is not None and not -90 <= latitude <= 90:
        check.problem(f"{path}.latitude", f"{latitude:g} is outside -90 to 90")
    if longitude is not None and not -180 <= longitude <= 180:
        check.problem(f"{path}.longitude", f"{longitude:g} is outside -180 to 180")
    if (latitude is None) != (longitude is None):
        check.problem(f"{path}.latitude", "latitude and longitude come together or not at all")
    key = "addresses" if "addresses" in location else "physical_addresses"
    addresses = check.objects(location, key, f"{path}.{key}")
    lines: tuple[str, ...] = ()
    city = postcode = None
    if addresses:
        where, address = addresses[0]
        lines = tuple(
            line
            for part in ("address_1", "address_2")
            if (line := check.text(address, part, f"{where}.{part}"))
        )
        city = check.text(address, "city", f"{where}.city")
        given = check.text(address, "postal_code", f"{where}.postal_code")
        country = (check.text(address, "country", f"{where}.country") or "GB").upper()
        if given and country in ("GB", "UK", "ENGLAND"):
            postcode = normalise_postcode(given)
            if postcode is None:
                check.problem(f"{where}.postal_code", f"{given[:20]!r} is not a UK postcode")
        elif given:
            postcode = given
    name = check.text(location, "name", f"{path}.name")
    if location_id is None:
        return None
    if not (lines or postcode or latitude is not None or name):
        check.problem(path, "a location needs a name, an address or coordinates")
    return Place(
        id=location_id,
        name=name,
        description=check.text(location, "description", f"{path}.description"),
        address_lines=lines,
        city=city,
        postcode=postcode,
        latitude=latitude,
        longitude=longitude,
    )


def _openings(
    check: _Checker, path: str, schedule: dict[str, Any]
) -> tuple[Opening | None, str | None]:
    """One schedule as a weekly opening (when it is weekly and names days) and its note."""
    note = check.text(schedule, "description", f"{path}.description")
    frequency = (check.text(schedule, "freq", f"{path}.freq") or "WEEKLY").upper()
    days: list[str] = []
    byday = check.text(schedule, "byday", f"{path}.byday")
    for token in (byday or "").replace(" ", "").split(","):
        if not token:
            continue
        code = RRULE_DAYS.get(token.upper()[-2:])
        if code is None:
            check.problem(f"{path}.byday", f"{token[:10]!r} is not a day (MO, TU, ... SU)")
        elif token.upper()[:-2] and frequency == "WEEKLY":
            check.problem(f"{path}.byday", f"{token!r}: a numbered day needs freq MONTHLY")
        elif code not in days:
            days.append(code)
    weekday = check.text(schedule, "weekday", f"{path}.weekday")
    if weekday:
        code = WEEKDAY_NAMES.get(weekday.lower()) or RRULE_DAYS.get(weekday.upper())
        if code is None:
            check.problem(f"{path}.weekday", f"{weekday[:12]!r} is not a day of the week")
        elif code not in days:
            days.append(code)
    opens = check.time(schedule, "opens_at", f"{path}.opens_at")
    closes = check.time(schedule, "closes_at", f"{path}.closes_at")
    if opens and closes and closes <= opens:
        check.problem(f"{path}.closes_at", f"{closes} is not after opens_at {opens}")
    if frequency != "WEEKLY" or any(t.upper()[:-2] for t in (byday or "").split(",") if t):
        # A monthly or numbered pattern ("second Tuesday") has no FHIR availableTime: keep
        # its words as a note instead.
        described = note or f"{frequency.lower()} on {byday}"
        return None, described
    if not days:
        return None, note
    ordered = tuple(sorted(days, key=DAY_ORDER.__getitem__))
    return Opening(ordered, opens, closes), note


def _schedules(
    check: _Checker, record: dict[str, Any]
) -> tuple[tuple[Opening, ...], tuple[str, ...]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for key in ("schedules", "regular_schedules"):
        found += check.objects(record, key, key)
    for where, at in check.objects(record, "service_at_locations", "service_at_locations"):
        for key in ("schedules", "regular_schedules", "regular_schedule"):
            found += check.objects(at, key, f"{where}.{key}")
    openings: list[Opening] = []
    notes: list[str] = []
    for where, schedule in found:
        opening, note = _openings(check, where, schedule)
        if opening is not None and opening not in openings:
            openings.append(opening)
        if note and note not in notes:
            notes.append(note)
    return tuple(openings), (" ".join(notes),) if notes else ()


def _eligibility(
    check: _Checker, record: dict[str, Any]
) -> tuple[int | None, int | None, tuple[str, ...]]:
    minimums = [check.age(record, "minimum_age", "minimum_age")]
    maximums = [check.age(record, "maximum_age", "maximum_age")]
    texts = [check.text(record, "eligibility_description", "eligibility_description")]
    for where, item in check.objects(record, "eligibilitys", "eligibilitys"):
        minimums.append(check.age(item, "minimum_age", f"{where}.minimum_age"))
        maximums.append(check.age(item, "maximum_age", f"{where}.maximum_age"))
        texts.append(check.text(item, "eligibility", f"{where}.eligibility"))
    low = min((m for m in minimums if m is not None), default=None)
    high = max((m for m in maximums if m is not None), default=None)
    if low is not None and high is not None and low > high:
        check.problem("maximum_age", f"{high} is below minimum_age {low}")
    unique = tuple(dict.fromkeys(t for t in texts if t))
    return low, high, unique


def _costs(check: _Checker, record: dict[str, Any]) -> tuple[CostOption, ...]:
    costs = []
    for where, item in check.objects(record, "cost_options", "cost_options"):
        amount = check.number(item, "amount", f"{where}.amount")
        if amount is not None and amount < 0:
            check.problem(f"{where}.amount", f"{amount:g} is negative")
        currency = check.text(item, "currency", f"{where}.currency")
        if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            check.problem(f"{where}.currency", f"{currency[:10]!r} is not an ISO 4217 code")
        costs.append(
            CostOption(
                option=check.text(item, "option", f"{where}.option"),
                amount=amount,
                currency=(currency or ("GBP" if amount is not None else None) or "").upper()
                or None,
                description=check.text(item, "amount_description", f"{where}.amount_description"),
            )
        )
    fees = check.text(record, "fees_description", "fees_description") or check.text(
        record, "fees", "fees"
    )
    if fees and not costs:
        costs.append(CostOption(description=fees))
    return tuple(costs)


def _contacts(check: _Checker, record: dict[str, Any]) -> tuple[ContactPoint, ...]:
    points: list[ContactPoint] = []

    def add(system: str, value: str | None) -> None:
        if value and ContactPoint(system, value) not in points:
            points.append(ContactPoint(system, value))

    url = check.text(record, "url", "url")
    if url and not re.match(r"^https?://\S+$", url):
        check.problem("url", "expected an http(s) address")
        url = None
    add("url", url)
    email = check.text(record, "email", "email")
    if email and not EMAIL.match(email):
        check.problem("email", "not an e-mail address")
        email = None
    add("email", email)
    for where, phone in check.objects(record, "phones", "phones"):
        add("phone", check.text(phone, "number", f"{where}.number", required=True))
    for where, contact in check.objects(record, "contacts", "contacts"):
        contact_email = check.text(contact, "email", f"{where}.email")
        if contact_email and not EMAIL.match(contact_email):
            check.problem(f"{where}.email", "not an e-mail address")
            contact_email = None
        add("email", contact_email)
        for at, phone in check.objects(contact, "phones", f"{where}.phones"):
            add("phone", check.text(phone, "number", f"{at}.number", required=True))
    return tuple(points)


def _terms(check: _Checker, record: dict[str, Any]) -> tuple[Term, ...]:
    terms: list[Term] = []
    for where, attribute in check.objects(record, "attributes", "attributes"):
        term = attribute.get("taxonomy_term")
        if not isinstance(term, dict):
            continue  # an attribute without a term carries no taxonomy
        path = f"{where}.taxonomy_term"
        code = check.text(term, "code", f"{path}.code") or check.text(
            term, "id", f"{path}.id", required=True
        )
        name = check.text(term, "name", f"{path}.name", required=True)
        given = term.get("taxonomy_detail")
        detail: dict[str, Any] = given if isinstance(given, dict) else {}
        vocabulary = (
            check.text(detail, "uri", f"{path}.taxonomy_detail.uri")
            or check.text(term, "taxonomy", f"{path}.taxonomy")
            or check.text(detail, "name", f"{path}.taxonomy_detail.name")
        )
        if vocabulary is None:
            check.problem(f"{path}.taxonomy", "required (which vocabulary the term is from)")
        elif code and name and Term(vocabulary_system(vocabulary), code, name) not in terms:
            terms.append(Term(vocabulary_system(vocabulary), code, name))
    for where, link in check.objects(record, "service_taxonomys", "service_taxonomys"):
        taxonomy = link.get("taxonomy")
        if not isinstance(taxonomy, dict):
            check.problem(f"{where}.taxonomy", "required")
            continue
        path = f"{where}.taxonomy"
        code = check.text(taxonomy, "id", f"{path}.id", required=True)
        name = check.text(taxonomy, "name", f"{path}.name", required=True)
        vocabulary = check.text(taxonomy, "vocabulary", f"{path}.vocabulary", required=True)
        if code and name and vocabulary:
            term = Term(vocabulary_system(vocabulary), code, name)
            if term not in terms:
                terms.append(term)
    return tuple(terms)


def read_service(record: Any, feed: str) -> DirectoryService | Withdrawal:
    """One ORUK service record: the service to publish, a withdrawal, or RecordRefused."""
    if not isinstance(record, dict):
        raise RecordRefused(None, [f"record: expected a JSON object, got {type(record).__name__}"])
    check = _Checker()
    service_id = check.text(record, "id", "id", required=True)
    status = (check.text(record, "status", "status", required=True) or "").lower()
    last_modified = check.moment(record, "last_modified", "last_modified")
    if status and status not in PUBLISHED_STATUSES + WITHDRAWN_STATUSES:
        check.problem(
            "status",
            f"{status[:30]!r} is not one of {', '.join(PUBLISHED_STATUSES + WITHDRAWN_STATUSES)}",
        )
    if status in WITHDRAWN_STATUSES and service_id is not None and not check.problems:
        return Withdrawal(service_id, status, last_modified)
    name = check.text(record, "name", "name", required=True)
    organisation = _organisation(check, record)
    places: list[Place] = []
    for where, at in check.objects(record, "service_at_locations", "service_at_locations"):
        location = at.get("location")
        if not isinstance(location, dict):
            check.problem(f"{where}.location", "required")
            continue
        place = _place(check, f"{where}.location", location)
        if place is not None and place.id not in {p.id for p in places}:
            places.append(place)
    openings, notes = _schedules(check, record)
    minimum, maximum, eligibility = _eligibility(check, record)
    costs = _costs(check, record)
    contacts = _contacts(check, record)
    terms = _terms(check, record)
    if check.problems or service_id is None or name is None or organisation is None:
        raise RecordRefused(service_id, check.problems)
    return DirectoryService(
        id=service_id,
        name=name,
        organisation=organisation,
        feed=feed,
        description=check.text(record, "description", "description"),
        temporarily_closed=status == "temporarily closed",
        places=tuple(places),
        openings=openings,
        schedule_notes=notes,
        minimum_age=minimum,
        maximum_age=maximum,
        eligibility=eligibility,
        costs=costs,
        contacts=contacts,
        terms=terms,
        needs=needs_for_terms(terms),
        last_modified=last_modified,
    )
