"""Intake's agency format readers, resolved from the hub's registry of agency formats.

The registry (`hub_common/agency_formats.py`) names each format once for the whole hub and
points at its reader here by `module:attribute`; adding a format is a new module in this
package plus one line there (services/intake/README.md, "Adding an agency format").
"""

from __future__ import annotations

from pkgutil import resolve_name

from hub_common.agency_formats import AgencyFormat, agency_formats
from hub_intake.adapters.formats.base import InboundFormat


def reader_of(fmt: AgencyFormat) -> InboundFormat:
    """The reader the registry names for `fmt`; a class is instantiated. A reader that reads
    another source than it is registered for is refused (its messages would land elsewhere)."""
    found = resolve_name(fmt.reader)
    reader: InboundFormat = found() if isinstance(found, type) else found
    if reader.source != fmt.source:
        raise ValueError(
            f"agency format {fmt.source!r}: its reader {fmt.reader} reads {reader.source!r}"
        )
    return reader


def registered_formats() -> dict[str, InboundFormat]:
    """A reader for every registered format, by source."""
    return {fmt.source: reader_of(fmt) for fmt in agency_formats()}
