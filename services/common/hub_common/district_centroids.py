"""Where each postcode district lies, to measure how far a service is from a person.

The table is data (`data/postcode-district-centroids.csv`: district, latitude, longitude, how
many locations it was derived from, and its source), not code. The shipped one is derived from
the demo directory's own location coordinates (`deploy/demo/make_district_centroids.py` says
how); a deployment replaces it with authoritative centroids in the same columns.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088


@cache
def district_centroids() -> dict[str, tuple[float, float]]:
    """Outward code (e.g. `SM1`) -> (latitude, longitude) in degrees."""
    table = resources.files("hub_common").joinpath("data/postcode-district-centroids.csv")
    with table.open(encoding="utf-8") as handle:
        return {
            row["district"]: (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(handle)
        }


def centroid_of(district: str) -> tuple[float, float] | None:
    """The centre of a district (case and spaces ignored), or None when the table lacks it."""
    return district_centroids().get(district.strip().upper())


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (latitude, longitude) points, in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
