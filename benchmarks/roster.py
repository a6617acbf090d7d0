"""A link worker roster for the benchmark: every district covered, capacity that never binds.

A benchmark that ran workers out of capacity would measure "awaiting allocation" Tasks, not
assignment. So each borough gets a few workers with every need, the languages the load asks
for, seven working days, risk clearance, and limits far above any run's referral count. The
roster is still as wide as the demo one (24 workers), so the policy does its usual work.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from hub_common.fhir.needs import NeedCategory
from hub_common.region.service_area import district_boroughs
from hub_router.public import COLUMNS

WORKERS_PER_BOROUGH = 4
UNBOUNDED = 1_000_000
LANGUAGE_SETS = ("en;tw;fr", "en;pl;ro", "en;so;ar;bn", "en;ur;ta;ko;pt")


def write_roster(path: Path) -> int:
    """Write the roster CSV (the columns `referral-hub workers load` reads); return its size."""
    districts: dict[str, list[str]] = defaultdict(list)
    for district, borough in district_boroughs().items():
        districts[borough].append(district)
    needs = ";".join(category.value for category in NeedCategory)
    rows = []
    for borough, covered in sorted(districts.items()):
        slug = borough.split()[0].lower()
        for n in range(WORKERS_PER_BOROUGH):
            rows.append(
                {
                    "worker_id": f"bench-{slug}-{n + 1:02d}",
                    "name": f"Bench Worker {borough} {n + 1}",
                    "email": f"bench-{slug}-{n + 1}@linkworkers.example",
                    "boroughs": borough,
                    "postcode_districts": ";".join(sorted(covered)),
                    "needs": needs,
                    "languages": LANGUAGE_SETS[n % len(LANGUAGE_SETS)],
                    "max_caseload": UNBOUNDED,
                    "max_new_per_day": UNBOUNDED,
                    "working_days": "Mon;Tue;Wed;Thu;Fri;Sat;Sun",
                    "risk_cleared": "Y",
                    "active": "Y",
                }
            )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
