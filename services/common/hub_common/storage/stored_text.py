"""Text the hub stores: PostgreSQL refuses the NUL character in text and JSONB alike, so an
input holding one is refused at the edge, naming the field, instead of failing in the database."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

NUL = "\x00"
NUL_MESSAGE = "contains a NUL character, which the hub cannot store"


def without_nul(value: str) -> str:
    if NUL in value:
        raise ValueError(NUL_MESSAGE)
    return value


StorableText = Annotated[str, AfterValidator(without_nul)]
"""A `str` field of a request body that will be stored (refused with 422 if it holds a NUL)."""


def first_nul(document: Any, path: str) -> str | None:
    """The path (`Subscription.channel.endpoint`) of the first string in a parsed JSON
    document that holds a NUL, in keys or values; None when there is none."""
    if isinstance(document, str):
        return path if NUL in document else None
    if isinstance(document, dict):
        for key, value in document.items():
            if NUL in str(key):
                return path
            if found := first_nul(value, f"{path}.{key}"):
                return found
    if isinstance(document, list):
        for index, value in enumerate(document):
            if found := first_nul(value, f"{path}[{index}]"):
                return found
    return None
