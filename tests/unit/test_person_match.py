"""Linking one person's referrals from several agencies (issue 13, item 8)."""

from __future__ import annotations

from datetime import date

import pytest

from hub_notifier.domain.person_match import (
    Demographics,
    Verdict,
    compare,
    demographics_of,
    fold,
    may_match,
    normalise_phone,
)

BORN = date(1961, 4, 23)


def person(
    family: str = "Okafor",
    given: tuple[str, ...] = ("Grace",),
    *,
    nhs: str | None = None,
    born: date | None = BORN,
    postcode: str = "SM1 1AA",
    phone: str = "07700 900123",
) -> Demographics:
    return Demographics(
        nhs_number=nhs,
        birth_date=born,
        family=fold(family),
        given=tuple(fold(g) for g in given),
        postcode=postcode.replace(" ", "").upper(),
        phone=normalise_phone(phone),
    )


def test_the_same_nhs_number_links_whatever_the_rest_says() -> None:
    match = compare(person(nhs="9434765919"), person("Smith", ("Ann",), nhs="9434765919"))
    assert (match.verdict, match.basis) == (Verdict.LINK, "nhs-number")


def test_two_nhs_numbers_are_two_people_even_with_the_same_demographics() -> None:
    assert compare(person(nhs="9434765919"), person(nhs="9434765870")).verdict is Verdict.DISTINCT


def test_a_gp_referral_with_an_nhs_number_links_a_police_one_without() -> None:
    police = person(phone="+44 7700 900123", postcode="sm11aa")
    match = compare(person(nhs="9434765919"), police)
    assert (match.verdict, match.basis, match.score) == (Verdict.LINK, "demographics", 1.0)


def test_accents_case_and_punctuation_do_not_count() -> None:
    match = compare(person("O'Neill", ("Zoë",)), person("ONEILL", ("zoe",)))
    assert match.verdict is Verdict.LINK


@pytest.mark.parametrize("other", ["Berg", "Vanderberg", "VAN DER BERG", "van den Berg"])
def test_family_name_particles_written_or_left_out(other: str) -> None:
    match = compare(person("van der Berg"), person(other))
    assert match.fields["family"] >= 0.95, match
    assert match.verdict is Verdict.LINK


def test_a_typo_in_a_name_still_links_when_the_rest_agrees() -> None:
    match = compare(person("Okafor", ("Grace",)), person("Okafro", ("Grcae",)))
    assert match.verdict is Verdict.LINK
    assert match.score < 1.0


def test_given_and_family_swapped_goes_to_a_coordinator_never_links_alone() -> None:
    match = compare(person("Khan", ("Ahmed",)), person("Ahmed", ("Khan",)))
    assert match.swapped_names
    assert match.fields["family"] == 1.0 and match.fields["given"] == 1.0
    assert match.verdict is Verdict.REVIEW


def test_twins_differ_only_in_the_given_name_and_are_asked_about() -> None:
    match = compare(person(given=("Amy",)), person(given=("Ann",)))
    assert match.score >= 0.85
    assert match.verdict is Verdict.REVIEW


def test_a_birth_date_with_day_and_month_swapped_is_reviewed_not_linked() -> None:
    match = compare(person(born=date(1961, 4, 3)), person(born=date(1961, 3, 4)))
    assert match.fields["birthDate"] == 0.8
    assert match.verdict is Verdict.REVIEW


def test_a_moved_person_with_a_new_phone_is_reviewed() -> None:
    moved = person(postcode="CR0 2AB", phone="020 8123 4567")
    match = compare(person(), moved)
    assert match.fields["postcode"] == 0.0 and match.fields["phone"] == 0.0
    assert match.verdict is Verdict.REVIEW


def test_different_people_are_distinct() -> None:
    other = person("Smith", ("John",), born=date(1990, 1, 1), postcode="SW19 8AA", phone="07000")
    assert compare(person(), other).verdict is Verdict.DISTINCT


def test_names_alone_are_never_enough() -> None:
    bare = Demographics(family="okafor", given=("grace",))
    assert compare(bare, bare).verdict is Verdict.DISTINCT


def test_a_missing_phone_neither_helps_nor_hurts() -> None:
    match = compare(person(), person(phone=""))
    assert "phone" not in match.fields
    assert (match.verdict, match.score) == (Verdict.LINK, 1.0)


def test_demographics_from_a_hub_service_request() -> None:
    request = {
        "subject": {"reference": "#patient"},
        "contained": [
            {
                "resourceType": "Patient",
                "id": "patient",
                "identifier": [
                    {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
                ],
                "name": [{"family": "Van der Berg", "given": ["Jánis", "Pieter"]}],
                "birthDate": "1961-04-23",
                "address": [{"postalCode": "sm1 1aa"}],
                "telecom": [
                    {"system": "email", "value": "x@example.org"},
                    {"system": "phone", "value": "+44 (0)7700-900123"},
                ],
            }
        ],
    }
    found = demographics_of(request)
    assert found == Demographics(
        nhs_number="9434765919",
        birth_date=BORN,
        family="van der berg",
        given=("janis", "pieter"),
        postcode="SM11AA",
        phone="07700900123",
    )


# Blocking (`may_match`): which referrals are compared at all. The notifier's SQL finds the
# same ones (tests/integration/test_person_link_plans.py).

LINKED_OR_REVIEWED = [
    (person(nhs="9434765919"), person("Smith", ("Ann",), nhs="9434765919")),
    (person(nhs="9434765919"), person(phone="+44 7700 900123", postcode="sm11aa")),
    (person("O'Neill", ("Zoë",)), person("ONEILL", ("zoe",))),
    (person("van der Berg"), person("Berg")),
    (person("Okafor", ("Grace",)), person("Okafro", ("Grcae",))),
    (person("Khan", ("Ahmed",)), person("Ahmed", ("Khan",))),
    (person(given=("Amy",)), person(given=("Ann",))),
    (person(born=date(1961, 4, 3)), person(born=date(1961, 3, 4))),
    (person(), person(postcode="CR0 2AB", phone="020 8123 4567")),
    (person(), person(phone="")),
]


@pytest.mark.parametrize(("one", "other"), LINKED_OR_REVIEWED)
def test_every_pair_linked_or_reviewed_above_is_compared(
    one: Demographics, other: Demographics
) -> None:
    assert compare(one, other).verdict is not Verdict.DISTINCT
    assert may_match(one, other) and may_match(other, one)


@pytest.mark.parametrize(
    "other",
    [
        person("Obi", ("Mary",), postcode="CR0 2AB", phone="020 8123 4567"),  # family initial
        person("Smith", ("Gail",), postcode="CR0 2AB", phone="020 8123 4567"),  # given initial
        person("Grant", ("Olu",), postcode="CR0 2AB", phone="020 8123 4567"),  # swapped
        person("Smith", ("Mary",), postcode="SM1 1AA", phone="020 8123 4567"),  # postcode
        person("Smith", ("Mary",), postcode="CR0 2AB", phone="07700 900123"),  # phone
    ],
)
def test_a_shared_birth_date_needs_one_more_field_in_common(other: Demographics) -> None:
    assert may_match(person(), other)


def test_a_birth_date_alone_is_not_enough_to_be_compared() -> None:
    # As history grows, ever more people share a birth date; one sharing nothing else was
    # never going to be linked or reviewed.
    stranger = person("Smith", ("Mary",), postcode="CR0 2AB", phone="020 8123 4567")
    assert not may_match(person(), stranger)
    assert compare(person(), stranger).verdict is Verdict.DISTINCT


def test_two_nhs_numbers_are_never_compared() -> None:
    assert not may_match(person(nhs="9434765919"), person(nhs="9434765870"))
    assert not may_match(person(nhs="9434765919"), person(nhs="9434765870", born=None))


def test_nothing_in_common_is_never_compared() -> None:
    other = person("Smith", ("Mary",), born=date(1990, 1, 1), postcode="CR0 2AB", phone="0")
    assert not may_match(person(), other)
    assert not may_match(Demographics(), Demographics())
