"""Which postcode districts the hub serves, and in which borough each mostly lies.

The table is data (`data/swl-postcode-districts.csv`), not code: districts straddle borough
lines and the list will change as the hub grows.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

BOROUGHS: tuple[str, ...] = (
    "Croydon",
    "Kingston upon Thames",
    "Merton",
    "Richmond upon Thames",
    "Sutton",
    "Wandsworth",
)


@cache
def district_boroughs() -> dict[str, str]:
    """Outward code (e.g. `SM1`) -> borough."""
    table = resources.files("hub_common").joinpath("data/swl-postcode-districts.csv")
    with table.open(encoding="utf-8") as handle:
        return {row["district"]: row["borough"] for row in csv.DictReader(handle)}


def district_of(postcode: str) -> str:
    """The outward code of a normalised postcode (`SM1 1AA` -> `SM1`)."""
    return postcode.split(" ", 1)[0]


def borough_of(postcode: str) -> str | None:
    return district_boroughs().get(district_of(postcode))


def is_served(postcode: str) -> bool:
    return borough_of(postcode) is not None
