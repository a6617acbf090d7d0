"""Every Kafka topic the hub reads or writes, named in one place (contract: docs/contract.md, Topics)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hub_common.agency_formats import agency_format, inbound_sources
from hub_common.fhir.systems import AGENCY_ID_SYSTEM

STATUS_PREFIX = "referrals.status."
"""Every agency's status topic starts so: the hub's services write them by this prefix."""

_READABLE_MAX = 48
_HASH_CHARS = 10
_ENDS_LIKE_A_HASH = re.compile(rf".*-[0-9a-f]{{{_HASH_CHARS}}}")
_LABEL = re.compile(r"[a-z0-9-]+")


def agency_label(agency: str) -> str:
    """The `<agency>` of `referrals.status.<source>.<agency>`: a stable, topic-safe form of the
    referring agency's `system|value` identifier, as intake records it (ODS code or hub id).

    A hub agency id that is already lower-case `[a-z0-9-]` (and does not end like a hash) is
    its own label: `metropolitan-police-service`. Anything else (an ODS code, a derived id
    such as `community:croydon-voluntary-action`, another system) is changed to fit, so a
    short hash of the whole `system|value` is added to keep two agencies apart: its value
    lower-cased, each run of other characters made one `-`, at most 48 characters, then `-`
    and the first 10 hex digits of its SHA-256 (`a81001-3c5d...`). Unchanged labels never
    end like a hash and changed ones always do, so the two kinds cannot meet.
    """
    system, _, value = agency.partition("|")
    readable = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:_READABLE_MAX].strip("-")
    if (
        system == AGENCY_ID_SYSTEM
        and readable
        and readable == value
        and not _ENDS_LIKE_A_HASH.fullmatch(value)
    ):
        return value
    digest = hashlib.sha256(agency.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{readable or 'agency'}-{digest}"


@dataclass(frozen=True)
class Topics:
    """Topic names, optionally namespaced so test runs can share a broker without crosstalk.

    The prefix is empty in production; tests set a unique one per run.
    """

    prefix: str = ""

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def inbound(self, source: str) -> str:
        agency_format(source)  # ValueError naming the registered sources
        return self._name(f"referrals.inbound.{source}")

    @property
    def requested(self) -> str:
        return self._name("referrals.requested")

    @property
    def rejected(self) -> str:
        return self._name("referrals.rejected")

    @property
    def tasks(self) -> str:
        return self._name("referrals.tasks")

    @property
    def status_prefix(self) -> str:
        """What every agency's status topic starts with (the services' prefixed Write ACL)."""
        return self._name(STATUS_PREFIX)

    def agency_status(self, source: str, agency: str) -> str:
        """One agency's status topic: what the hub tells it about its own referrals, readable
        by that agency alone (docs/data-protection.md, status topics per agency). `agency` is
        its `system|value` identifier; the topic is created when first published to
        (hub_common.messaging.on_demand), not by `topics ensure`."""
        agency_format(source)  # ValueError naming the registered sources
        return f"{self.status_prefix}{source}.{agency_label(agency)}"

    @property
    def agency_status_address(self) -> str:
        """The status topics' address as the contract documents write it."""
        return f"{self.status_prefix}{{source}}.{{agency}}"

    def is_agency_status(self, topic: str) -> bool:
        """One of the agencies' `referrals.status.<source>.<agency>` topics."""
        if not topic.startswith(self.status_prefix):
            return False
        source, dot, label = topic[len(self.status_prefix) :].partition(".")
        return bool(dot) and source in inbound_sources() and bool(_LABEL.fullmatch(label))

    @property
    def directory(self) -> str:
        return self._name("linkworkers.directory")

    @property
    def directory_services(self) -> str:
        """The community services directory: a FHIR Bundle (HealthcareService, Organization,
        Locations) per service, keyed by its directory id (hub_common.region.directory)."""
        return self._name("directory.services")

    @property
    def onward(self) -> str:
        """Onward referrals from a link worker to a community organisation: every change of
        one, keyed by the link worker's referral id (hub_common.messaging.onward)."""
        return self._name("referrals.onward")

    @property
    def alerts(self) -> str:
        """Operational alerts for coordinators (e.g. a referral nobody could take)."""
        return self._name("hub.alerts")

    @property
    def audit(self) -> str:
        """Every read and change of personal data (who, what, when, from where): every
        service writes it, the notifier keeps it (hub_common.security.audit)."""
        return self._name("hub.audit")

    @property
    def data_protection(self) -> str:
        """Erasure and restriction requests about one person, and each service's answer
        (hub_common.privacy.data_protection): ids only."""
        return self._name("hub.data-protection")

    def all(self) -> list[str]:
        """Every topic the hub needs to exist before its services start (the agencies' status
        topics are made as they are needed: `agency_status`)."""
        return [
            *(self.inbound(source) for source in inbound_sources()),
            self.requested,
            self.rejected,
            self.tasks,
            self.directory,
            self.directory_services,
            self.onward,
            self.alerts,
            self.audit,
            self.data_protection,
        ]

    def is_inbound(self, topic: str) -> bool:
        """One of the agencies' `referrals.inbound.<source>` topics."""
        return topic in {self.inbound(source) for source in inbound_sources()}

    def is_compacted(self, topic: str) -> bool:
        # Both directories are tables of the latest entry per key (a PractitionerRole per
        # worker, a service Bundle per community service): compact them, so a tombstone
        # removes an entry and a reader starting from the beginning sees only current rows.
        return topic in (self.directory, self.directory_services)
