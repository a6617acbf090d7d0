"""What intake makes of a message's readings before recording them: references the database
can hold, and the sender the credential (not the payload) says."""

from __future__ import annotations

from dataclasses import replace

from hub_common.fhir.outcome import Issue
from hub_common.fhir.systems import ODS_SYSTEM
from hub_intake.adapters.formats.base import Reading
from hub_intake.domain.referral import Referral
from hub_intake.service_layer.commands import ReceiveReferrals

MAX_REFERENCE_LENGTH = 200  # the column's width


def checked_readings(command: ReceiveReferrals, readings: list[Reading]) -> list[Reading]:
    """The readings with their references limited and, over HTTP, the sender's credential."""
    for reading in readings:
        _limit_reference(reading)
        if command.agency and reading.referral is not None:
            reading.referral = with_sender(reading.referral, command.agency)
    return readings


def _limit_reference(reading: Reading) -> None:
    """A reference the database cannot hold (absurdly long, or with a NUL) is refused here
    rather than by the database."""
    if reading.referrer_reference and len(reading.referrer_reference) > MAX_REFERENCE_LENGTH:
        reading.issues.append(
            Issue(
                "(reference)",
                f"the referrer's reference is longer than {MAX_REFERENCE_LENGTH} characters",
            )
        )
        reading.referrer_reference = reading.referrer_reference[:MAX_REFERENCE_LENGTH]
        reading.referral = None
    if reading.referrer_reference and "\x00" in reading.referrer_reference:
        # PostgreSQL refuses NUL in text: refuse it here, and keep the reference without it.
        reading.issues.append(
            Issue("(reference)", "the referrer's reference contains a NUL character")
        )
        reading.referrer_reference = reading.referrer_reference.replace("\x00", "")
        reading.referral = None


def with_sender(referral: Referral, agency: str) -> Referral:
    """The credential, not the payload, decides which agency a referral is from."""
    system, _, value = agency.partition("|")
    if system == ODS_SYSTEM:
        referrer = replace(referral.referrer, ods_code=value, agency_id=None)
    else:
        referrer = replace(referral.referrer, ods_code=None, agency_id=value)
    return replace(referral, referrer=referrer)


def verified_sender(command: ReceiveReferrals, referral: Referral) -> str | None:
    """Who sent a referral, when that can be trusted to be the same every time: the HTTP
    credential, or an ODS code. A name from the payload can be written two ways by the same
    organisation, so it identifies no one well enough to refuse a resend on."""
    if command.agency:
        return command.agency
    if referral.referrer.ods_code:
        return f"{ODS_SYSTEM}|{referral.referrer.ods_code}"
    return None
