"""Kafka entrypoints of the router: new referrals, the link worker directory, and the
community services directory (for search, and for which organisation runs each service)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from hub_common.contract import declare_publications
from hub_common.messaging.consuming import Delivery, subscribe
from hub_common.messaging.messages import (
    AlertMessage,
    AuditMessage,
    BundleMessage,
    DataProtectionMessage,
    OnwardEvent,
    PractitionerRoleMessage,
    ServiceRequestMessage,
    TaskMessage,
)
from hub_common.privacy.data_protection import PUBLICATION as DATA_PROTECTION_PUBLICATION
from hub_common.privacy.data_protection import subscribe_requests
from hub_common.security.audit import AUDIT_PUBLICATION
from hub_router.config import RouterSettings
from hub_router.service_layer.data_protection import RouterDataProtection
from hub_router.service_layer.directory import DirectoryServices
from hub_router.service_layer.referral_changes import ReferralChanges, is_change
from hub_router.service_layer.routing import RoutingService


def register_consumers(
    broker: KafkaBroker,
    service: RoutingService,
    settings: RouterSettings,
    directory: DirectoryServices,
    changes: ReferralChanges,
    protection: RouterDataProtection,
) -> None:
    declare_publications(
        broker,
        {
            settings.topics.tasks: (
                "FHIR R4 Task snapshot after every change; meta.versionId rises by one",
                TaskMessage,
            ),
            settings.topics.alerts: (
                "JSON alert for coordinators, keyed by referral id: a "
                "referral awaiting allocation (nobody eligible, or too many offers declined or "
                "unanswered); a service level breach or escalation (sla-breach: first contact or "
                "closure late), raised once; its resolution (sla-breach-resolved); an onward "
                "referral no organisation answered by its deadline, declined for it and back to the "
                "link worker (onward-no-response); ids and area only",
                AlertMessage,
            ),
            settings.topics.audit: (AUDIT_PUBLICATION, AuditMessage),
            settings.topics.data_protection: (DATA_PROTECTION_PUBLICATION, DataProtectionMessage),
            settings.topics.onward: (
                "Every change of an onward referral (a link worker sending the person to a "
                "community organisation's service; the organisation accepting, declining, "
                "recording attendance; the hub nudging it at half its deadline, declining it at "
                "the deadline), keyed by the link worker's referral id; event types "
                "OnwardReferralSent, OnwardReferralChanged, OnwardReferralNudged. Ids and codes "
                "only, no personal data",
                OnwardEvent,
            ),
        },
    )

    async def on_requested(message: ServiceRequestMessage, delivery: Delivery) -> None:
        """Offer a new referral; idempotent on the event id and the referral id. A later
        version (cancelled or amended by its referrer) changes the Task instead."""
        request = message.value
        if is_change(request):
            await changes.apply(request, delivery.event_id, delivery.traceparent)
            return
        arrival = (request, delivery.event_id, delivery.traceparent)
        if await protection.hold_restricted([arrival]):  # a restricted person's: held
            await service.route(*arrival)

    async def on_requested_batch(
        messages: list[tuple[ServiceRequestMessage, Delivery]],
    ) -> None:
        """Offer a batch of new referrals in one transaction (same idempotency as one by one),
        then apply the batch's later versions in order: a referral's first version always
        comes before its changes (same key, same partition), so routing the new ones first
        keeps each referral's order."""
        batch = [(message.value, delivery) for message, delivery in messages]
        later = [(r, d) for r, d in batch if is_change(r)]
        new = [(r, d) for r, d in batch if not is_change(r)]
        to_route = await protection.hold_restricted(
            [(request, d.event_id, d.traceparent) for request, d in new]
        )
        if to_route:
            await service.route_batch(to_route)
        for request, delivery in later:
            await changes.apply(request, delivery.event_id, delivery.traceparent)

    async def on_directory(role: PractitionerRoleMessage | None, delivery: Delivery) -> None:
        """Keep the directory: the latest PractitionerRole per worker (upsert, so idempotent)."""
        await service.apply_directory_entry(delivery.key, None if role is None else role.value)

    async def on_service(bundle: BundleMessage | None, delivery: Delivery) -> None:
        """Keep the services directory: the latest Bundle per service; a tombstone withdraws."""
        await directory.apply(delivery.key, None if bundle is None else bundle.value)

    subscribe_requests(
        broker,
        settings.topics,
        settings.group_id("router-data-protection"),
        "router",
        protection.apply,
    )
    subscribe(
        broker,
        topics=settings.topics.requested,
        group_id=settings.group_id("router"),
        message=ServiceRequestMessage,
        description="Canonical FHIR ServiceRequests to offer to a link worker",
        apply=on_requested,
        apply_batch=on_requested_batch,
    )
    subscribe(
        broker,
        topics=settings.topics.directory,
        group_id=settings.group_id("router-directory"),
        message=PractitionerRoleMessage,
        description="The link worker directory: a PractitionerRole per worker; a tombstone removes",
        apply=on_directory,
        tombstones=True,
    )
    subscribe(
        broker,
        topics=settings.topics.directory_services,
        group_id=settings.group_id("router-services"),
        message=BundleMessage,
        description="The community services directory: a FHIR Bundle (HealthcareService, "
        "Organization, Locations) per service, for link workers to search; a tombstone withdraws",
        apply=on_service,
        tombstones=True,
    )
