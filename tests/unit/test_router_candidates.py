"""Whom a coordinator may offer a waiting referral to: best fit first, the rest saying why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hub_common.fhir.needs import NeedCategory
from hub_router.domain.candidates import candidates
from hub_router.domain.model import WEEKDAYS, LinkWorker, Load, ReferralToRoute

TODAY = date(2026, 11, 23)
BASE = LinkWorker(
    "lw-a",
    boroughs=frozenset({"Merton"}),
    postcode_districts=frozenset({"SW19"}),
    working_days=frozenset(WEEKDAYS),
    max_new_per_day=12,
)
REFERRAL = ReferralToRoute(
    "r1", "e1", "SW19", "Merton", needs=frozenset({NeedCategory.CARER_SUPPORT}), language="tw"
)


def test_those_who_can_take_it_come_first_by_fit_and_the_rest_say_why() -> None:
    twi = replace(BASE, worker_id="lw-twi", languages=frozenset({"en", "tw"}))
    plain = replace(BASE, worker_id="lw-plain")
    elsewhere = replace(
        BASE,
        worker_id="lw-far",
        postcode_districts=frozenset({"CR7"}),
        boroughs=frozenset({"Croydon"}),
    )
    full = replace(BASE, worker_id="lw-full", languages=frozenset({"tw"}))
    offered = replace(BASE, worker_id="lw-before")
    found = candidates(
        REFERRAL,
        ["lw-before"],
        [plain, full, elsewhere, offered, twi],
        {"lw-twi": "Kwame", "lw-full": "Sam"},
        {"lw-full": Load(active=3, new_today=12)},
        TODAY,
    )
    assert [c.worker.worker_id for c in found] == [
        "lw-twi",  # speaks the person's language
        "lw-plain",
        "lw-before",  # choosing them sets an earlier offer aside (then by name) ...
        "lw-far",  # ... or the area
        "lw-full",  # cannot take it today, whatever the coordinator sets aside
    ]
    assert found[0].name == "Kwame" and found[1].name == "lw-plain"
    assert found[2].set_aside == ("already offered this referral",)
    assert found[3].set_aside == ("does not cover the person's area",)
    assert not found[4].eligible and found[4].reason == "daily limit reached (12/12)"
    assert found[4].to_json()["newToday"] == 12 and found[4].score is None
