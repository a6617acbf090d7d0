"""Every Kafka topic the hub reads or writes, named in one place (contract: docs/contract.md, Topics)."""

from __future__ import annotations

from dataclasses import dataclass

from hub_common.agency_formats import agency_format, inbound_sources


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

    def status(self, source: str) -> str:
        return self._name(f"referrals.status.{source}")

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
        """Every topic the hub needs to exist before its services start."""
        return [
            *(self.inbound(source) for source in inbound_sources()),
            self.requested,
            self.rejected,
            self.tasks,
            *(self.status(source) for source in inbound_sources()),
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
