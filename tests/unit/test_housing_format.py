from datetime import UTC, date, datetime

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from hub_common.fhir.needs import NeedCategory as N
from hub_common.jsonio import dumps
from hub_intake.adapters.fhir_mapping import to_service_request
from hub_intake.adapters.formats.base import Reading, UnreadableMessage
from hub_intake.adapters.formats.housing import HousingFormat
from tests.support.fixtures import inbound

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HEADER = (
    "landlord,landlord_ref,tenant_name,date_of_birth,nhs_number,address,postcode,phone,email,"
    "rent_arrears_gbp,support_needs,consent,officer_name,officer_email,notes"
)
GOOD_ROW = (
    "Wandle Housing,WHA-1,Li Chen,1950-01-15,,22 Morden Road,SM4 5PP,020 8555 0142,,0,"
    "loneliness,Y,Tom Reilly,t.reilly@wandle.example,"
)


def read(text: str | bytes) -> list[Reading]:
    body = text.encode() if isinstance(text, str) else text
    return HousingFormat().read(body, RECEIVED)


def errors(reading: Reading) -> set[str]:
    return {issue.field for issue in reading.issues if issue.is_error}


def test_the_example_gives_one_accepted_reading_per_row() -> None:
    first, second = read(inbound("housing-tenancy-referrals.csv"))
    assert (first.item, second.item) == ("row 2", "row 3")
    assert first.accepted and second.accepted, (first.issues, second.issues)
    assert first.issues == second.issues == []
    one, two = first.referral, second.referral
    assert one is not None and two is not None
    assert (one.source, one.referrer_reference) == ("housing", "CLN-77812")
    assert (one.person.given_names, one.person.family_name) == (("Samuel",), "Adeyemi")
    assert one.person.birth_date == date(1984, 9, 30)
    assert one.person.nhs_number == "9991590838"
    assert one.person.address.lines == ("Flat 7, Garratt Court, Garratt Lane",)
    assert one.person.address.postcode == "SW18 4EQ"
    assert one.person.email == "sam.a@mail.example"
    assert (one.referrer.organisation, one.referrer.organisation_type) == (
        "Clarion Housing",
        "housing_association",
    )
    assert (one.referrer.person_name, one.referrer.email) == (
        "Lena Fischer",
        "lena.fischer@clarion.example",
    )
    assert [(n.category, n.text) for n in one.needs] == [
        (N.MONEY_DEBT_BENEFITS, "money_debt"),
        (N.EMPLOYMENT_EDUCATION, "employment"),
        (N.MENTAL_WELLBEING, "mental_health"),
        (N.MONEY_DEBT_BENEFITS, "rent arrears of £1240.50"),
    ]
    assert one.notes == ("Lost job in March, arrears growing, low mood",)
    # "Family, Given"; no arrears (0) means no money need.
    assert (two.person.given_names, two.person.family_name) == (("Li",), "Chen")
    assert [n.category for n in two.needs] == [N.LONELINESS_ISOLATION, N.DIGITAL_INCLUSION]


def test_a_byte_order_mark_windows_line_endings_and_stray_spaces_are_tolerated() -> None:
    row = (
        " Wandle Housing , WHA-2 , Mrs  Ada  Lovelace , 15/01/1950 , 943 476 5919 ,"
        ' 22 Morden Road , sm4  5pp , , ada@mail.example , "£1,240.50" , loneliness ; digital , y ,'
        " Tom Reilly , t.reilly@wandle.example , "
    )
    body = b"\xef\xbb\xbf" + f"{HEADER}\r\n{row}\r\n\r\n".encode()
    [reading] = read(body)
    assert reading.accepted, reading.issues
    referral = reading.referral
    assert referral is not None
    assert referral.referrer_reference == "WHA-2"
    assert (referral.person.given_names, referral.person.family_name) == (("Ada",), "Lovelace")
    assert referral.person.birth_date == date(1950, 1, 15)
    assert referral.person.nhs_number == "9434765919"
    assert referral.person.address.postcode == "SM4 5PP"
    assert referral.person.phone is None  # an empty cell is no value
    assert [(n.category, n.text) for n in referral.needs] == [
        (N.LONELINESS_ISOLATION, "loneliness"),
        (N.DIGITAL_INCLUSION, "digital"),
        (N.MONEY_DEBT_BENEFITS, "rent arrears of £1240.50"),
    ]


def test_headers_are_matched_liberally() -> None:
    header = HEADER.upper().replace("LANDLORD_REF", " Landlord Ref ")
    [reading] = read(f"{header}\n{GOOD_ROW}\n")
    assert reading.accepted, reading.issues


def test_a_bad_row_is_refused_alone_and_names_its_columns() -> None:
    bad = GOOD_ROW.replace("WHA-1", "WHA-9").replace("SM4 5PP", "M1 1AE").replace(",Y,", ",N,")
    good, rejected, also_good = read(
        f"{HEADER}\n{GOOD_ROW}\n{bad}\n{GOOD_ROW.replace('WHA-1', 'WHA-3')}\n"
    )
    assert good.accepted and also_good.accepted
    assert not rejected.accepted and rejected.referral is None
    assert rejected.item == "row 3"
    assert errors(rejected) == {"postcode", "consent"}
    assert rejected.referrer_reference == "WHA-9"
    assert rejected.contact.email == "t.reilly@wandle.example"


def test_row_numbers_are_line_numbers_even_across_quoted_line_breaks_and_blank_lines() -> None:
    multi_line = GOOD_ROW.replace("WHA-1", "WHA-4") + '"first line\nsecond line"'
    readings = read(f"{HEADER}\n{multi_line}\n\n{GOOD_ROW}\n")
    assert [r.item for r in readings] == ["row 2", "row 5"]
    assert readings[0].referral is not None
    assert readings[0].referral.notes == ("first line\nsecond line",)


def test_missing_values_are_named_by_column() -> None:
    row = "Wandle Housing,WHA-5,,,,,,,,,,,,,"
    [reading] = read(f"{HEADER}\n{row}\n")
    assert errors(reading) == {"tenant_name", "postcode", "phone", "consent", "officer_email"}


def test_a_short_row_is_read_with_the_missing_cells_named() -> None:
    [reading] = read(f"{HEADER}\nWandle Housing,WHA-6,Li Chen,1950-01-15,,22 Morden Road\n")
    assert errors(reading) == {"postcode", "consent", "officer_email"}


def test_extra_cells_are_kept_as_a_note_with_a_warning() -> None:
    [reading] = read(f"{HEADER}\n{GOOD_ROW}Likes gardening, and chess\n")
    assert reading.accepted
    assert reading.referral is not None
    assert reading.referral.notes == ("Likes gardening", "Unlabelled cells: and chess")
    assert [(i.field, i.severity) for i in reading.issues] == [("(extra cells)", "warning")]
    dumps(reading.original)  # the row is kept as JSON for a replay


@pytest.mark.parametrize(
    ("arrears", "need_texts", "warned"),
    [
        ("0", [], False),
        ("", [], False),
        ("-12", [], False),
        ("lots", [], True),
        ("12", ["rent arrears of £12.00"], False),
    ],
)
def test_rent_arrears_above_zero_add_the_money_need(
    arrears: str, need_texts: list[str], warned: bool
) -> None:
    row = GOOD_ROW.replace(",0,loneliness,", f",{arrears},,")
    [reading] = read(f"{HEADER}\n{row}\n")
    assert reading.accepted and reading.referral is not None
    assert [n.text for n in reading.referral.needs] == need_texts
    assert [i.field for i in reading.issues] == (["rent_arrears_gbp"] if warned else [])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" \r\n\r\n",
        HEADER.encode() + b"\r\n",
        GOOD_ROW.encode() + b"\n" + GOOD_ROW.encode(),  # no header row
        HEADER.encode() + b"\n" + "Wandle,WHA-1,Zoë".encode("latin-1"),  # not UTF-8
    ],
)
def test_a_document_without_a_header_or_rows_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        read(body)


def test_every_accepted_row_becomes_a_valid_fhir_r4_service_request() -> None:
    for reading in read(inbound("housing-tenancy-referrals.csv")):
        assert reading.referral is not None
        request = to_service_request(reading.referral, "ref-1", "ep-1")
        ServiceRequest.model_validate(request)
        assert reading.referral.referrer_reference in {i["value"] for i in request["identifier"]}
