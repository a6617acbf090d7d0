"""The registry of agency formats: the one place a format is named (contract: docs/contract.md).

Every service needs the list of sources (intake reads `referrals.inbound.<source>`, the notifier
writes the agencies' `referrals.status.<source>.<agency>`, the web app names the kind of
referral, the CLI creates topics and ACLs), but only intake may know how a format is read, and no service may import
another's internals. So the registry is here, in the shared package, and names intake's reader
by reference (`module:attribute`, the way an entry point does); only intake resolves it.

Everything else is derived from it: the topics (`Topics.all()`), the CLI's choices and ACLs,
the consumers, the web app's labels and upload media types, the referrer-reference
NamingSystems in `schemas/fhir`, and from the reader itself the JSON Schema in
`schemas/inbound` and the example message in `schemas/examples`. Adding a format is its intake
module (with its schema beside it) plus one `register` line at the bottom of this file: the
steps are in services/intake/README.md, "Adding an agency format".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SOURCE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
"""A source names a topic (`referrals.inbound.<source>`), a route and a credential's scope."""


@dataclass(frozen=True)
class AgencyFormat:
    """One agency format as the whole hub sees it."""

    source: str
    """`referrals.inbound.<source>`, `POST /referrals/<source>`, the referrer-ref system."""
    label: str
    """What people call its referrals ("Police referral"), as the web app shows them."""
    reader: str
    """Intake's reader, `module:attribute` (a class or instance of intake's InboundFormat)."""
    media_type: str = "application/json"
    """What an agency sends: the body of an HTTP upload, the bytes on the inbound topic."""

    def __post_init__(self) -> None:
        if not SOURCE.match(self.source):
            raise ValueError(
                f"agency format source {self.source!r}: lower-case letters, digits and '-', "
                "starting with a letter (it names a topic)"
            )
        if ":" not in self.reader:
            raise ValueError(f"agency format {self.source}: reader is 'module:attribute'")


_REGISTRY: dict[str, AgencyFormat] = {}


def register(fmt: AgencyFormat) -> AgencyFormat:
    """Add a format; a second format with the same source is refused (it would share a topic)."""
    if fmt.source in _REGISTRY:
        raise ValueError(f"agency format {fmt.source!r} is already registered")
    _REGISTRY[fmt.source] = fmt
    return fmt


@contextmanager
def registered(fmt: AgencyFormat) -> Iterator[AgencyFormat]:
    """`fmt` registered for the length of a `with` block (tests register made-up formats)."""
    register(fmt)
    try:
        yield fmt
    finally:
        del _REGISTRY[fmt.source]


def agency_formats() -> tuple[AgencyFormat, ...]:
    """Every registered format, in the order registered."""
    return tuple(_REGISTRY.values())


def inbound_sources() -> tuple[str, ...]:
    """The sources of every registered format (each has `referrals.inbound.<source>`)."""
    return tuple(_REGISTRY)


def agency_format(source: str) -> AgencyFormat:
    """The format of `source`; ValueError naming the known sources when there is none."""
    try:
        return _REGISTRY[source]
    except KeyError:
        raise ValueError(
            f"unknown inbound source {source!r}; expected one of {inbound_sources()}"
        ) from None


FORMATS = "hub_intake.adapters.formats"

register(AgencyFormat("fhir", "GP referral", f"{FORMATS}.fhir_bundle:FhirBundleFormat", "application/fhir+json"))  # fmt: skip
register(AgencyFormat("police", "Police referral", f"{FORMATS}.police:PoliceFormat"))
register(AgencyFormat("fire", "Fire service referral", f"{FORMATS}.fire:FireFormat"))
register(AgencyFormat("housing", "Housing referral", f"{FORMATS}.housing:HousingFormat", "text/csv"))  # fmt: skip
register(AgencyFormat("community", "Community referral", f"{FORMATS}.community:CommunityFormat"))  # fmt: skip
