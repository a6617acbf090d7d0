"""Agency bodies as UTF-8 text, or a refusal that says what was found and what is expected.

Spreadsheets and older case systems save Latin-1 or Windows-1252; a refusal that only says
"not valid UTF-8: surrogates not allowed" leaves the sender guessing. The byte and where it
is tell them which character to look at, and the advice what to change.
"""

from __future__ import annotations

from hub_intake.adapters.formats.base import UnreadableMessage

BOM = b"\xef\xbb\xbf"


def utf8_text(body: bytes, what: str) -> str:
    """The body decoded as UTF-8 (a byte-order mark dropped), or UnreadableMessage."""
    try:
        return body.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        found = body.removeprefix(BOM)[error.start]
        raise UnreadableMessage(
            f"the {what} is not UTF-8 text: byte 0x{found:02X} at byte {error.start + 1} "
            f"is not valid UTF-8 (it reads as {bytes([found]).decode('cp1252', 'replace')!r} in "
            "Latin-1 or Windows-1252, which is probably how it was saved); save or send it "
            "as UTF-8"
        ) from None
