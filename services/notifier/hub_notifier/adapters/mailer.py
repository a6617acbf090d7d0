"""E-mail over SMTP (stdlib smtplib, in a worker thread so the event loop never blocks)."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from hub_notifier.adapters.attempt import Attempt
from hub_notifier.domain.email_text import StatusEmail


def compose(sender: str, recipient: str, email: StatusEmail, message_id: str) -> bytes:
    """The whole message, fixed when the change is recorded: a retry sends the same bytes, and
    the Message-ID lets a mail system drop a repeat."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{message_id}@referral-hub>"
    message.set_content(email.body)
    # SMTP's line ending is CRLF, and smtplib sends bytes as they are: with bare LF a server
    # reads the whole message as one line and refuses any longer than 1,000 bytes.
    return message.as_bytes(policy=SMTP)


@dataclass(frozen=True)
class SmtpMailer:
    """Sends prepared messages through one SMTP server."""

    host: str
    port: int
    sender: str
    timeout_seconds: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    async def send(self, recipient: str, message: bytes) -> Attempt:
        try:
            await asyncio.to_thread(self._send, recipient, message)
        except (smtplib.SMTPException, OSError) as error:
            return Attempt(False, type(error).__name__)
        return Attempt(True)

    def _send(self, recipient: str, message: bytes) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.sendmail(self.sender, [recipient], message)
