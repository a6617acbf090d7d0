"""The body of a JSON agency message, or UnreadableMessage saying why it is not one."""

from __future__ import annotations

from typing import Any

from hub_common.jsonio import loads
from hub_intake.adapters.formats.base import UnreadableMessage
from hub_intake.adapters.formats.text_encoding import utf8_text
from hub_intake.adapters.formats.versions import SchemaVersions


def json_object(body: bytes, versions: SchemaVersions | None = None) -> dict[str, Any]:
    """The body as a JSON object whose version marker, when it has one, is one of `versions`."""
    # A byte-order mark is not JSON, but editors on Windows add one: tolerate it.
    text = utf8_text(body, "JSON document")
    try:
        document = loads(text)
    except ValueError as error:
        raise UnreadableMessage(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise UnreadableMessage("expected a JSON object")
    if versions is not None:
        versions.check(document)
    return document
