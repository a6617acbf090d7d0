"""The benchmark's load: a realistic mix of every inbound format, built from the test fixtures.

Each message is a fixture with its people, places and references changed, so the hub does the
work real traffic makes it do: every referral is new (unique referrer reference), people vary
(a new person key, often no NHS number), and postcodes spread over every South West London
district the hub serves, so every borough's link workers are in play. Housing associations send
CSV batches of several rows, as they do in life.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hub_common.region.service_area import district_boroughs

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "inbound"

# Share of referrals per format. GPs refer most; housing arrives in batches.
MIX: dict[str, float] = {
    "fhir": 0.35,
    "community": 0.20,
    "housing": 0.20,
    "police": 0.125,
    "fire": 0.125,
}
HOUSING_BATCH = (3, 6)  # rows per CSV message, inclusive

GIVEN = (
    "Amara", "Ben", "Chloe", "Dariusz", "Efua", "Farah", "George", "Hannah", "Ibrahim", "Jia",
    "Kofi", "Lena", "Mohammed", "Niamh", "Oluwaseun", "Priya", "Qasim", "Rosa", "Sean", "Tendai",
    "Usha", "Viktor", "Wen", "Yusuf", "Zofia", "Margaret", "Colin", "Gloria", "Samuel", "Li",
)  # fmt: skip
FAMILY = (
    "Adeyemi", "Baptiste", "Chen", "Da Silva", "Evans", "Fitzgerald", "Gallagher", "Hussain",
    "Ibrahim", "Jones", "Kowalski", "Lewis", "Mensah", "Nowak", "O'Neill", "Patel", "Quinn",
    "Rahman", "Sivakumar", "Taylor", "Usman", "Vargas", "Warsame", "Yilmaz", "Zhou", "Hargreaves",
)  # fmt: skip
STREETS = (
    "Brigstock Road", "Cheam Road", "Garratt Lane", "Morden Road", "Wellesley Road", "Park Lane",
    "London Road", "High Street", "Church Road", "Station Road", "Mitcham Lane", "Kingston Road",
)  # fmt: skip
# Mostly English, with the languages South West London's link workers are asked for.
LANGUAGES = ("en",) * 12 + ("tw", "pl", "pt", "so", "ar", "bn", "ur", "ta", "ko", "ro", "fr")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in inward codes

COMMUNITY_NEEDS = (
    "carer_support", "loneliness", "mental_health", "bereavement", "digital_inclusion",
    "physical_activity", "food", "money_debt", "housing", "healthy_eating",
)  # fmt: skip
POLICE_CONCERNS = (
    "social_isolation", "mental_health", "hoarding", "financial_hardship", "self_neglect",
    "bereavement", "domestic_abuse", "housing",
)  # fmt: skip
FIRE_REASONS = (
    "Loneliness", "Cold home / fuel poverty", "Would like help getting out", "Hoarding",
    "Low mood", "Struggling with money",
)  # fmt: skip
GP_REASONS = (
    "Bereavement, low mood, socially isolated since losing his mother",
    "Lonely since moving to the area; would like to meet people",
    "Anxiety and debt worries after losing work",
    "Carer for her husband, exhausted, needs carer support",
    "Wants to be more active; physical activity and healthy eating",
    "Food insecurity; using a food bank most weeks",
)  # fmt: skip
HOUSING_NEEDS = (
    "money_debt;employment;mental_health", "loneliness;digital_inclusion", "housing;money_debt",
    "mental_health", "food;money_debt", "carer_support;loneliness",
)  # fmt: skip
LANDLORDS = ("Clarion Housing", "Wandle Housing", "Peabody", "Croydon Council Housing")
RISK = ("none",) * 5 + ("low", "medium", "medium", "high")


@dataclass(frozen=True)
class Inbound:
    """One message as an agency publishes it on `referrals.inbound.<source>`."""

    source: str
    key: str  # the Kafka key: unique, so the raw relay can correlate on it too
    body: bytes
    references: tuple[str, ...]  # referrer references inside (several for a housing batch)


def nhs_number(rng: random.Random) -> str:
    """A Modulus 11 valid number in the 999 range the NHS keeps for testing."""
    while True:
        digits = [9, 9, 9, *(rng.randrange(10) for _ in range(6))]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


class People:
    """Random but plausible people in South West London (seeded, so runs are comparable)."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.districts = sorted(district_boroughs())

    def postcode(self) -> str:
        rng = self.rng
        inward = f"{rng.randrange(1, 10)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
        return f"{rng.choice(self.districts)} {inward}"

    def birth_date(self) -> date:
        return self.today - timedelta(days=self.rng.randrange(18 * 365, 95 * 365))

    def phone(self) -> str:
        return f"07700 900{self.rng.randrange(1000):03d}"

    def street(self) -> str:
        return f"{self.rng.randrange(1, 200)} {self.rng.choice(STREETS)}"

    def nhs(self, share: float) -> str | None:
        return nhs_number(self.rng) if self.rng.random() < share else None

    def recent(self) -> date:
        return self.today - timedelta(days=self.rng.randrange(0, 4))


def _template(name: str) -> Any:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


def _community(p: People, reference: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(_template("community-referral.json"))
    language = p.rng.choice(LANGUAGES)
    doc["form_id"] = reference
    doc["submitted_at"] = f"{p.recent().isoformat()}T10:{p.rng.randrange(60):02d}:00+00:00"
    doc["person"].update(
        given_name=p.rng.choice(GIVEN),
        family_name=p.rng.choice(FAMILY),
        date_of_birth=p.birth_date().isoformat(),
        nhs_number=p.nhs(0.3),
        postcode=p.postcode(),
        address=p.street(),
        phone=p.phone(),
        language=language,
        interpreter_required=language != "en" and p.rng.random() < 0.5,
    )
    doc["needs"] = p.rng.sample(COMMUNITY_NEEDS, p.rng.randrange(1, 4))
    return doc


def _fire(p: People, reference: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(_template("fire-safe-and-well.json"))
    doc["visit_id"] = reference
    doc["visited_on"] = p.recent().strftime("%d/%m/%Y")
    doc["occupant"].update(
        name=f"{p.rng.choice(('Mr', 'Mrs', 'Ms', ''))} {p.rng.choice(GIVEN)} {p.rng.choice(FAMILY)}".strip(),
        dob=p.birth_date().strftime("%d/%m/%Y"),
        address=p.street(),
        postcode=p.postcode().lower(),  # crews type what they hear; intake normalises
        phone=p.phone(),
        nhs_number=p.nhs(0.2) or "",
    )
    doc["referral_reasons"] = p.rng.sample(FIRE_REASONS, p.rng.randrange(1, 4))
    doc["risk_factors"]["lives_alone"] = p.rng.random() < 0.6
    return doc


def _police(p: People, reference: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(_template("police-vulnerability-referral.json"))
    when = f"{p.recent().isoformat()}T09:{p.rng.randrange(60):02d}:00Z"
    number = p.nhs(0.5)
    doc["occurrence_ref"] = reference
    doc["reported_at"] = when
    doc["subject"].update(
        surname=p.rng.choice(FAMILY),
        forenames=f"{p.rng.choice(GIVEN)} {p.rng.choice(GIVEN)}",
        date_of_birth=p.birth_date().isoformat(),
        nhs_number=f"{number[:3]} {number[3:6]} {number[6:]}" if number else None,
        phone=p.phone(),
        preferred_language=p.rng.choice(LANGUAGES),
    )
    doc["subject"]["address"].update(line1=p.street(), postcode=p.postcode())
    doc["concerns"] = p.rng.sample(POLICE_CONCERNS, p.rng.randrange(1, 4))
    doc["risk_to_visitors"] = p.rng.choice(RISK)
    doc["consent"]["recorded_at"] = when
    return doc


def _fhir(p: People, reference: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(_template("gp-servicerequest-bundle.json"))
    request, patient, requester, consent = (entry["resource"] for entry in doc["entry"])
    # Fresh fullUrls per bundle, as a GP system makes them; references follow.
    urls = {
        entry["fullUrl"]: f"urn:uuid:{uuid.UUID(int=p.rng.getrandbits(128))}"
        for entry in doc["entry"]
    }
    for entry in doc["entry"]:
        entry["fullUrl"] = urls[entry["fullUrl"]]
    request["subject"]["reference"] = urls[request["subject"]["reference"]]
    request["requester"]["reference"] = urls[request["requester"]["reference"]]
    request["supportingInfo"][0]["reference"] = urls[request["supportingInfo"][0]["reference"]]
    consent["patient"]["reference"] = request["subject"]["reference"]
    request["identifier"][0]["value"] = reference
    request["authoredOn"] = f"{p.recent().isoformat()}T10:02:00Z"
    request["reasonCode"] = [{"text": p.rng.choice(GP_REASONS)}]
    number = p.nhs(0.95)  # GP systems nearly always know it
    if number:
        patient["identifier"][0]["value"] = number
    else:
        del patient["identifier"]
    patient["name"] = [{"family": p.rng.choice(FAMILY), "given": [p.rng.choice(GIVEN)]}]
    patient["birthDate"] = p.birth_date().isoformat()
    patient["telecom"][0]["value"] = p.phone()
    patient["address"][0].update(line=[p.street()], postalCode=p.postcode())
    patient["communication"][0]["language"]["coding"][0]["code"] = p.rng.choice(LANGUAGES)
    requester["organization"]["identifier"]["value"] = f"H85{p.rng.randrange(1000):03d}"
    return doc


def _housing_rows(p: People, references: list[str]) -> str:
    header = _template("housing-tenancy-referrals.csv").splitlines()[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    out.write(header + "\n")
    for reference in references:
        given, family = p.rng.choice(GIVEN), p.rng.choice(FAMILY)
        writer.writerow(
            [
                p.rng.choice(LANDLORDS),
                reference,
                f"{given} {family}",
                p.birth_date().isoformat(),
                p.nhs(0.4) or "",
                f"Flat {p.rng.randrange(1, 40)}, {p.street()}",
                p.postcode(),
                p.phone(),
                f"{given.lower()}.{family.lower().replace(' ', '')}@mail.example",
                f"{p.rng.choice((0, 0, 120.0, 640.5, 1240.5)):.2f}",
                p.rng.choice(HOUSING_NEEDS),
                "Y",
                "Lena Fischer",
                "lena.fischer@housing.example",
                "Arrears growing, low mood",
            ]
        )
    return out.getvalue()


SINGLE: dict[str, tuple[str, Callable[[People, str], dict[str, Any]]]] = {
    "fhir": ("GP", _fhir),
    "community": ("CVA", _community),
    "police": ("CAD", _police),
    "fire": ("SWV", _fire),
}


def generate(count: int, tag: str, seed: int, today: date | None = None) -> list[Inbound]:
    """Messages carrying exactly `count` referrals, each with a reference unique to `tag`."""
    rng = random.Random(f"{seed}:{tag}")  # noqa: S311 - test data, not secrets
    people = People(rng, today or date.today())
    sources, weights = list(MIX), list(MIX.values())
    messages: list[Inbound] = []
    made = 0
    while made < count:
        source = rng.choices(sources, weights)[0]
        if source == "housing":
            rows = min(rng.randint(*HOUSING_BATCH), count - made)
            references = [f"HSG-{tag}-{made + i:06d}" for i in range(rows)]
            body = _housing_rows(people, references).encode()
            key = f"batch-{references[0]}"
        else:
            prefix, build = SINGLE[source]
            references = [f"{prefix}-{tag}-{made:06d}"]
            body = json.dumps(build(people, references[0])).encode()
            key = references[0]
        messages.append(Inbound(source, key, body, tuple(references)))
        made += len(references)
    return messages
