"""Status e-mails for referrers with no system: status and a link, nothing personal."""

from email import message_from_bytes

from hub_notifier.adapters.mailer import compose
from hub_notifier.domain.email_text import status_email
from hub_notifier.domain.message_back import message_back
from tests.support.notifier_setup import CLOSING_OUTCOMES


def test_the_email_says_the_status_and_links_to_the_task() -> None:
    email = status_email(
        referral_id="ref-1",
        status="in-progress",
        business_status="first-contact-made",
        link="https://hub.example/fhir/Task/ref-1",
        referrer_reference="CVA-1",
    )
    assert email.subject == "Referral ref-1: in progress"
    assert "Your referral ref-1 (your reference CVA-1) is in progress" in email.body
    assert "https://hub.example/fhir/Task/ref-1" in email.body
    assert "CVA-1" in email.body


def test_the_email_of_the_person_taking_up_support_gives_the_code_to_record() -> None:
    email = status_email(
        referral_id="ref-1",
        status="in-progress",
        business_status="first-contact-made",
        link="l",
        message=message_back("in-progress", "first-contact-made", first_contact=True),
    )
    assert "SNOMED CT 871731000000106" in email.body


def test_the_composed_message_is_addressed_and_identified() -> None:
    email = status_email(referral_id="r", status="accepted", business_status="", link="l")
    raw = compose("hub@example", "referrer@example", email, "delivery-1")
    message = message_from_bytes(raw)
    assert message["To"] == "referrer@example"
    assert message["Message-ID"] == "<delivery-1@referral-hub>"
    assert "accepted by a link worker" in message.get_payload()


def test_a_long_message_travels_in_crlf_lines_an_smtp_server_accepts() -> None:
    referral_id = "0d7f5c2e-2b7a-4c1e-9a57-6f0e8c1d2a10"
    email = status_email(
        referral_id=referral_id,
        status="completed",
        business_status="connected-to-services",
        link=f"https://notifier.referral-hub.example/fhir/Task/{referral_id}",
        referrer_reference="GP-2026-000123",
        message=message_back("completed", "connected-to-services", outcomes=CLOSING_OUTCOMES),
    )
    raw = compose("hub@example", "practice@example", email, "delivery-2")
    assert len(raw) > 1000  # longer than one SMTP line may be
    lines = raw.split(b"\r\n")
    assert all(b"\n" not in line and len(line) <= 998 for line in lines)
    assert "Support offered:" in message_from_bytes(raw).get_payload(decode=True).decode()


def test_a_refusal_reads_as_a_person_would_write_it() -> None:
    email = status_email(
        referral_id="ref-2", status="rejected", business_status="", link="https://web/x"
    )
    assert email.subject == "Referral ref-2: needs correcting"
    assert "could not be accepted: something in it needs correcting" in email.body
    assert "not accepted." not in email.body and "is now" not in email.body
    assert "correct and resend" in email.body
