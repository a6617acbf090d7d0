"""Where each postcode district lies, to measure how far a service is from a person.

The table is data (`data/postcode-district-centroids.csv`: district, latitude, longitude, how
many locations it was derived from, and its source), not code. The shipped one is derived from
the demo directory's own location coordinates (`deploy/demo/make_district_centroids.py` says
how); a deployment of another region names its own, with authoritative centroids in the same
columns, in `HUB_DISTRICT_CENTROIDS` (beside its `HUB_SERVICE_AREA`, hub_common.region.service_area).
"""

from __future__ import annotations

import csv
import io
import math
import os
from functools import cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088


CENTROIDS_ENV = "HUB_DISTRICT_CENTROIDS"


def district_centroids() -> dict[str, tuple[float, float]]:
    """Outward code (e.g. `SM1`) -> (latitude, longitude) in degrees: the file
    `HUB_DISTRICT_CENTROIDS` names, else the packaged demo table."""
    return load_centroids(os.environ.get(CENTROIDS_ENV, "").strip())


@cache
def load_centroids(path: str) -> dict[str, tuple[float, float]]:
    """The table in the CSV file at `path`, or the packaged one when empty; read once."""
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise ValueError(
                f"district centroids {path} ({CENTROIDS_ENV}): cannot be read: {error.strerror}"
            ) from None
    else:
        packaged = resources.files("hub_common").joinpath("data/postcode-district-centroids.csv")
        text = packaged.read_text(encoding="utf-8")
    table: dict[str, tuple[float, float]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            point = (float(row["latitude"]), float(row["longitude"]))
            table[row["district"].strip().upper()] = point
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError(
                f"district centroids {path or 'packaged'} ({CENTROIDS_ENV}), line {line}: "
                "expected columns district, latitude, longitude with numbers in degrees"
            ) from None
    return table


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
