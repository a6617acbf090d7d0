"""Write the postcode district centroid table the router measures distances from.

    .venv/bin/python deploy/demo/make_district_centroids.py

The hub ships no outside geography: each district's centre is the mean latitude and longitude
of the demo directory's own locations whose postcode is in that district
(deploy/demo/swl-services.oruk.json), rounded to 3 decimals (about 100 m). It is therefore
only as good as that directory's coordinates, and covers only the districts it has locations
in. A deployment replaces the file with centroids from an authoritative open source (e.g. the
ONS Postcode Directory, Open Government Licence) in the same columns.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIRECTORY = REPO / "deploy/demo/swl-services.oruk.json"
OUT = REPO / "services/common/hub_common/data/postcode-district-centroids.csv"
SOURCE = "mean of the demo directory's location coordinates (deploy/demo/swl-services.oruk.json)"


def main() -> None:
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for service in json.loads(DIRECTORY.read_text(encoding="utf-8")):
        for link in service.get("service_at_locations", []):
            location = link.get("location", {})
            for address in location.get("addresses", []):
                postcode = (address.get("postal_code") or "").upper().split()
                if postcode and location.get("latitude") is not None:
                    points[postcode[0]].append((location["latitude"], location["longitude"]))
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["district", "latitude", "longitude", "locations", "source"])
        for district in sorted(points):
            found = points[district]
            latitude = sum(p[0] for p in found) / len(found)
            longitude = sum(p[1] for p in found) / len(found)
            writer.writerow([district, f"{latitude:.3f}", f"{longitude:.3f}", len(found), SOURCE])


if __name__ == "__main__":
    main()
