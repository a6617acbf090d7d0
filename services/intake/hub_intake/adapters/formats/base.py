"""What an agency format adapter is: bytes in the agency's format -> readings of referrals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hub_common.fhir.outcome import Issue
from hub_intake.domain.referral import Referral, Referrer

if TYPE_CHECKING:
    from hub_intake.adapters.formats.versions import SchemaVersions

SCHEMAS = Path(__file__).resolve().parent / "schemas"
"""Each format's JSON Schema, beside its module; `schemas write` copies it to schemas/inbound."""
_FOLDERS = Path(__file__).resolve().parents
EXAMPLES = _FOLDERS[min(5, len(_FOLDERS) - 1)] / "tests" / "fixtures" / "inbound"
"""Each format's example message, in the repository only (the contract and the tests read it;
a running service never does, so an installed copy without it still starts)."""


@dataclass(frozen=True)
class ReferrerContact:
    """Where the referrer can be told about a rejection (kept with the rejected event)."""

    organisation: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def referrer(
        self, organisation: str, organisation_type: str, ods_code: str | None = None
    ) -> Referrer:
        """The accepted referral's referrer: this contact, at `organisation`."""
        return Referrer(
            organisation=organisation,
            organisation_type=organisation_type,
            ods_code=ods_code,
            person_name=self.name,
            email=self.email,
            phone=self.phone,
        )


@dataclass(frozen=True)
class ReferralUpdate:
    """A sender's change to a referral the hub holds (a BaRS update message, formats/bars.py):
    `cancel` it, or `amend` it with the referral read again. `read_version` is the version of
    the ServiceRequest the sender read before changing it, when it says."""

    kind: Literal["cancel", "amend"]
    read_version: int | None = None


@dataclass
class Reading:
    """One referral as read from a message: accepted (`referral` set) or not, with every issue.

    A message may hold several (a housing CSV); each stands or falls on its own.
    """

    referrer_reference: str | None
    original: Any  # the agency's own document (or CSV row), kept for replay after a fix
    contact: ReferrerContact
    referral: Referral | None = None
    issues: list[Issue] = field(default_factory=list)
    item: str | None = None  # e.g. "row 3" in a CSV batch
    update: ReferralUpdate | None = None  # set when it changes a referral instead of adding one

    @property
    def accepted(self) -> bool:
        return self.referral is not None and not any(issue.is_error for issue in self.issues)


class UnreadableMessage(ValueError):
    """The message as a whole cannot be parsed (not JSON, not CSV, wrong document type).

    `field` names the part at fault when one can be named (`schema` for an unknown version);
    otherwise the refusal is about the body as a whole.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InboundFormat(Protocol):
    """An agency format: one module per format, registered in `hub_common/agency_formats.py`
    (which names its source, label and media type for the whole hub)."""

    source: str
    # The wire shape (JSON Schema 2020-12, published as schemas/inbound/<file name>) and an
    # example message (published as schemas/examples/referrals.inbound.<source>.<suffix>).
    json_schema_file: Path
    example_file: Path
    # The versions it reads, checked on the message's own marker (versions.py); None for a
    # format whose messages carry no marker (FHIR R4, the housing CSV): see the intake README.
    versions: SchemaVersions | None

    def read(self, body: bytes, received_at: datetime) -> list[Reading]:
        """Read every referral in `body`; raise UnreadableMessage when nothing can be read."""
        ...
