"""Status e-mails for referrers with no system: status and a link, nothing personal."""

from email import message_from_bytes

from hub_notifier.adapters.mailer import compose
from hub_notifier.domain.email_text import status_email
from hub_notifier.domain.message_back import message_back


def test_the_email_says_the_status_and_links_to_the_task() -> None:
    email = status_email(
        referral_id="ref-1",
        status="in-progress",
        business_status="first-contact-made",
        link="https://hub.example/fhir/Task/ref-1",
        referrer_reference="CVA-1",
    )
    assert email.subject == "Referral ref-1: in-progress"
    assert "is now in progress" in email.body
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
