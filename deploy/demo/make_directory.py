"""Write the demo community services directory: invented but plausible South West London services
as an Open Referral UK (HSDS 3.0) JSON file, the same every run (fixed seed).

    .venv/bin/python deploy/demo/make_directory.py                 # deploy/demo/swl-services.oruk.json
    .venv/bin/python deploy/demo/make_directory.py --services 5000 --out /tmp/big.json

Every name, address, phone number and e-mail address is made up (e-mail and web addresses use
the reserved example.org domain); boroughs and postcode districts come from the packaged demo service area
(services/common/hub_common/data/service-area-swl.json).
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "swl-services.oruk.json"
SEED = 14
NAMESPACE = uuid.UUID("6c1f3a52-0d3e-4b8e-9a51-2f4e7c9b1d10")
VOCABULARY = {
    "id": str(uuid.uuid5(NAMESPACE, "vocabulary")),
    "name": "South West London demo service types",
    "description": "Service types of the referral hub's demo directory",
    "uri": "https://referral-hub.org/demo/taxonomy/service-types",
    "version": "1",
}

# Approximate centres of each postcode district (latitude, longitude).
CENTRES = {
    "CR0": (51.375, -0.085), "CR2": (51.350, -0.080), "CR5": (51.318, -0.140),
    "CR7": (51.397, -0.103), "CR8": (51.330, -0.105), "SE25": (51.397, -0.075),
    "KT1": (51.410, -0.300), "KT2": (51.418, -0.285), "KT3": (51.400, -0.260),
    "KT5": (51.393, -0.285), "KT6": (51.385, -0.300), "KT9": (51.360, -0.300),
    "CR4": (51.403, -0.160), "SM4": (51.390, -0.200), "SW19": (51.420, -0.205),
    "SW20": (51.410, -0.225), "TW1": (51.448, -0.325), "TW2": (51.445, -0.345),
    "TW9": (51.465, -0.295), "TW10": (51.450, -0.300), "TW11": (51.426, -0.330),
    "TW12": (51.420, -0.370), "SW13": (51.473, -0.245), "SW14": (51.465, -0.265),
    "SM1": (51.365, -0.190), "SM2": (51.350, -0.195), "SM3": (51.375, -0.215),
    "SM5": (51.365, -0.165), "SM6": (51.360, -0.145), "KT4": (51.378, -0.240),
    "SW11": (51.465, -0.165), "SW12": (51.445, -0.150), "SW15": (51.455, -0.220),
    "SW17": (51.430, -0.165), "SW18": (51.450, -0.195),
}  # fmt: skip

# Per need: service types (their names carry the words the hub maps to its need categories),
# ways to name a service, and what it offers.
KINDS: dict[str, dict[str, Any]] = {
    "loneliness-isolation": {
        "terms": ["Befriending", "Lunch club", "Social activities", "Peer support group"],
        "names": ["{area} Befriending Scheme", "{area} Friendship Lunch Club", "Tea and Company {area}",
                  "{area} Good Neighbours", "Men in Sheds {area}"],
        "about": "Friendly company for people who feel alone: home visits, phone calls and a weekly get-together.",
    },
    "mental-wellbeing": {
        "terms": ["Wellbeing support", "Counselling", "Creative arts for wellbeing", "Mindfulness"],
        "names": ["{area} Wellbeing Café", "{area} Talking Space", "Arts on Prescription {area}",
                  "{area} Mindfulness Circle", "Calm Minds {area}"],
        "about": "Low-cost emotional support and creative sessions for people with low mood, stress or anxiety.",
    },
    "bereavement": {
        "terms": ["Bereavement support", "Grief counselling"],
        "names": ["{area} Bereavement Service", "Living with Loss {area}", "{area} Grief Café"],
        "about": "One-to-one and group support after the death of someone close.",
    },
    "housing": {
        "terms": ["Housing advice", "Tenancy sustainment", "Home repairs"],
        "names": ["{area} Housing Advice Surgery", "Stay Put {area} Home Repairs", "{area} Tenancy Support"],
        "about": "Advice on tenancies, repairs, disrepair and keeping a home safe and warm.",
    },
    "money-debt-benefits": {
        "terms": ["Debt advice", "Welfare benefits advice", "Budgeting support"],
        "names": ["{area} Money Advice", "{area} Benefits Check Clinic", "Debt Free {area}"],
        "about": "Free, confidential help with debts, benefits claims, appeals and budgeting.",
    },
    "employment-education": {
        "terms": ["Employment support", "Adult learning", "Volunteering", "ESOL classes"],
        "names": ["{area} Jobs Club", "{area} Volunteer Centre", "Learn English {area}",
                  "{area} Skills Hub"],
        "about": "Help with CVs, job search, training courses and volunteering placements.",
    },
    "physical-activity": {
        "terms": ["Walking groups", "Community gardening", "Exercise classes", "Chair yoga"],
        "names": ["{area} Health Walks", "{area} Community Garden", "Move More {area}",
                  "{area} Chair Yoga", "Green Gym {area}"],
        "about": "Gentle, sociable activity for all abilities: walks, gardening and classes.",
    },
    "healthy-eating": {
        "terms": ["Healthy eating", "Cooking classes", "Weight management"],
        "names": ["{area} Cook and Eat", "Healthy Plates {area}", "{area} Weight Management Group"],
        "about": "Practical cooking sessions and support to eat well on a budget.",
    },
    "food-insecurity": {
        "terms": ["Food bank", "Community pantry", "Community fridge"],
        "names": ["{area} Food Bank", "{area} Community Pantry", "{area} Community Fridge"],
        "about": "Emergency food parcels and low-cost groceries, with signposting to further help.",
    },
    "carer-support": {
        "terms": ["Carer support", "Carers' breaks"],
        "names": ["{area} Carers Centre", "Time Out for Carers {area}", "{area} Young Carers"],
        "about": "Information, breaks and peer groups for people caring for a relative or friend.",
    },
    "digital-inclusion": {
        "terms": ["Digital skills", "Get online help", "Device lending"],
        "names": ["{area} Digital Drop-in", "Get Online {area}", "{area} Tablet Lending Library"],
        "about": "One-to-one help to use a phone, tablet or computer, and to get online safely.",
    },
    "hoarding": {
        "terms": ["Hoarding support", "Declutter help"],
        "names": ["{area} Hoarding Support Group", "Clear Space {area}"],
        "about": "Non-judgemental support for people whose homes have become cluttered.",
    },
    "safeguarding-concern": {
        "terms": ["Domestic abuse support", "Safeguarding advice"],
        "names": ["{area} Domestic Abuse Service", "{area} Safe Spaces"],
        "about": "Confidential advice and advocacy for people experiencing abuse.",
    },
}  # fmt: skip

ORGANISATION_KINDS = ["Community Trust", "Voluntary Action", "Neighbourhood Care", "Age Concern",
                      "Mind", "Citizens Advice", "Carers Network", "Community Association"]  # fmt: skip
PLACES = ["Community Centre", "Library", "Methodist Church Hall", "Baptist Church", "Leisure Centre",
          "Family Hub", "Youth and Community Hub", "Mosque Community Room", "Scout Hut"]  # fmt: skip
STREETS = ["High Street", "Church Road", "Station Road", "London Road", "Park Lane", "Victoria Road",
           "Grove Road", "Mill Lane", "The Broadway", "Manor Road", "Queens Road", "Albert Road"]  # fmt: skip
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA"]
AGES = [(None, None), (None, None), (18, None), (60, None), (16, 25), (50, None), (None, None)]
AREAS_BY_DISTRICT = {
    "CR0": "Croydon", "CR2": "South Croydon", "CR5": "Coulsdon", "CR7": "Thornton Heath",
    "CR8": "Purley", "SE25": "South Norwood", "KT1": "Kingston", "KT2": "Norbiton",
    "KT3": "New Malden", "KT5": "Surbiton", "KT6": "Tolworth", "KT9": "Chessington",
    "CR4": "Mitcham", "SM4": "Morden", "SW19": "Wimbledon", "SW20": "Raynes Park",
    "TW1": "Twickenham", "TW2": "Whitton", "TW9": "Richmond", "TW10": "Ham",
    "TW11": "Teddington", "TW12": "Hampton", "SW13": "Barnes", "SW14": "Mortlake",
    "SM1": "Sutton", "SM2": "Belmont", "SM3": "Cheam", "SM5": "Carshalton",
    "SM6": "Wallington", "KT4": "Worcester Park", "SW11": "Battersea", "SW12": "Balham",
    "SW15": "Putney", "SW17": "Tooting", "SW18": "Wandsworth Town",
}  # fmt: skip


def ident(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


def districts() -> dict[str, str]:
    """District -> borough of the packaged South West London demo area (whatever
    HUB_SERVICE_AREA says: the demo directory is of the demo area)."""
    from hub_common.region.service_area import load_service_area

    return dict(load_service_area("").district_boroughs)


def organisation(rng: random.Random, borough: str, number: int) -> dict[str, Any]:
    kind = ORGANISATION_KINDS[number % len(ORGANISATION_KINDS)]
    name = f"{borough} {kind}" if number < len(ORGANISATION_KINDS) else f"{borough} {kind} {number}"
    domain = f"{slug(name)}.example.org"
    return {
        "id": ident("organisation", borough, number),
        "name": name,
        "description": f"A local charity serving {borough}.",
        "email": f"info@{domain}",
        "website": f"https://{domain}",
    }


def schedule(rng: random.Random, service_id: str) -> list[dict[str, Any]]:
    if rng.random() < 0.1:
        return [{"id": ident(service_id, "schedule", 0), "freq": "MONTHLY", "byday": "1TH",
                 "opens_at": "10:00", "closes_at": "12:00",
                 "description": "First Thursday of each month, 10am to noon."}]  # fmt: skip
    opens = rng.choice(["09:00", "09:30", "10:00", "13:00", "18:00"])
    hours = rng.choice([2, 3, 4])
    closes = f"{int(opens[:2]) + hours:02d}{opens[2:]}"
    days = sorted(rng.sample(DAYS, rng.choice([1, 1, 2, 3, 5])), key=DAYS.index)
    return [{"id": ident(service_id, "schedule", 1), "freq": "WEEKLY", "byday": ",".join(days),
             "opens_at": opens, "closes_at": closes}]  # fmt: skip


def location(rng: random.Random, name: str, district: str, area: str) -> dict[str, Any]:
    latitude, longitude = CENTRES[district]
    return {
        "id": ident("location", name),
        "location_type": "physical",
        "name": name,
        "latitude": round(latitude + rng.uniform(-0.006, 0.006), 5),
        "longitude": round(longitude + rng.uniform(-0.009, 0.009), 5),
        "addresses": [
            {
                "id": ident("address", name),
                "address_1": f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
                "city": area,
                "state_province": "Greater London",
                "postal_code": f"{district} {rng.randint(1, 9)}"
                f"{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}",
                "country": "GB",
                "address_type": "physical",
            }
        ],
    }


def make_service(
    rng: random.Random, number: int, need: str, district: str, borough: str,
    organisations: list[dict[str, Any]], modified: datetime, places: dict[str, dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    kind = KINDS[need]
    area = AREAS_BY_DISTRICT.get(district, borough)
    service_id = ident("service", number)
    org = rng.choice(organisations)
    place = f"{area} {rng.choice(PLACES)}"
    low, high = rng.choice(AGES)
    terms = rng.sample(kind["terms"], k=min(len(kind["terms"]), rng.choice([1, 1, 2])))
    charged = rng.random() < 0.2
    record: dict[str, Any] = {
        "id": service_id,
        "organization_id": org["id"],
        "name": kind["names"][number % len(kind["names"])].format(area=area)
        + (f" ({number})" if number >= 400 else ""),
        "description": kind["about"],
        "url": f"{org['website']}/services/{number}",
        "email": org["email"],
        "status": "temporarily closed" if rng.random() < 0.02 else "active",
        "eligibility_description": f"People living or registered with a GP in {borough}",
        "last_modified": (modified - timedelta(days=rng.randint(0, 400))).isoformat(),
        "organization": org,
        "phones": [
            {
                "id": ident(service_id, "phone"),
                "number": f"020 8{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            }
        ],
        "schedules": schedule(rng, service_id),
        "cost_options": [
            {
                "id": ident(service_id, "cost"),
                "option": "Per session",
                "amount": rng.choice([2, 3, 4, 5]),
                "currency": "GBP",
                "amount_description": "Contribution per session; ask about concessions",
            }
        ]
        if charged
        else [
            {
                "id": ident(service_id, "cost"),
                "option": "All sessions",
                "amount": 0,
                "currency": "GBP",
                "amount_description": "Free",
            }
        ],
        "attributes": [
            {
                "id": ident(service_id, "attribute", term),
                "taxonomy_term_id": ident("term", term),
                "link_type": "service",
                "taxonomy_term": {
                    "id": ident("term", term),
                    "code": slug(term),
                    "name": term,
                    "description": term,
                    "taxonomy": VOCABULARY["name"],
                    "taxonomy_detail": VOCABULARY,
                },
            }
            for term in terms
        ],
        "service_at_locations": [
            {
                "id": ident(service_id, "at"),
                "location": places.setdefault(place, location(rng, place, district, area)),
            }
        ],
    }
    if low is not None:
        record["minimum_age"] = low
    if high is not None:
        record["maximum_age"] = high
    return record


def make_directory(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`count` services spread over every borough and every need, in a fixed order."""
    rng = random.Random(seed)  # noqa: S311 - demo data, repeatable on purpose
    table = districts()
    by_borough: dict[str, list[str]] = {}
    for district, borough in table.items():
        by_borough.setdefault(borough, []).append(district)
    organisations = {
        borough: [organisation(rng, borough, n) for n in range(max(6, count // 60))]
        for borough in by_borough
    }
    modified = datetime(2026, 11, 1, tzinfo=UTC)
    needs, boroughs = sorted(KINDS), sorted(by_borough)
    services = []
    places: dict[str, dict[str, Any]] = {}
    for number in range(count):
        need = needs[number % len(needs)]
        borough = boroughs[(number // len(needs)) % len(boroughs)]
        district = rng.choice(by_borough[borough])
        services.append(
            make_service(
                rng, number, need, district, borough, organisations[borough], modified, places
            )
        )
    return services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=390, help="how many (default 390)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.write_text(
        json.dumps(make_directory(args.services), indent=1) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.services} services to {args.out}")


if __name__ == "__main__":
    main()
