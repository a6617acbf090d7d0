"""`referral-hub directory import`: bring a feed's services onto `directory.services`.

The import first reads the directory as it stands (the compacted topic, to its end), then
decides for every record what changes: a new service is added, a different one changed, one
whose status says it stopped is withdrawn (a tombstone), and a record that fails its checks is
refused with its reasons while the rest go on. A full import (no `--modified-after`) also
withdraws this feed's services that the feed no longer lists; an incremental one cannot tell
"unchanged" from "gone", so it never does. A refused record never withdraws the service it
names: the directory keeps what it had until the feed sends something usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hub_cli.directory.feed import FeedError, fetch_services, read_file
from hub_cli.directory.oruk import RecordRefused, Withdrawal, read_service
from hub_common.fhir.systems import FHIR_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.clients import aiokafka_options, make_producer
from hub_common.messaging.directory_topic import read_compacted
from hub_common.messaging.envelope import Envelope
from hub_common.region.directory import to_bundle
from hub_common.settings import InfraSettings

PUBLISHED = "DirectoryServicePublished"
WITHDRAWN = "DirectoryServiceWithdrawn"


@dataclass(frozen=True)
class Refusal:
    """A record not imported: its place in the feed (from 1), its id if it had one, and why."""

    record: int
    service_id: str | None
    problems: tuple[str, ...]

    def line(self) -> str:
        named = f"service {self.service_id}" if self.service_id else "a service without an id"
        return f"record {self.record} ({named}): {'; '.join(self.problems)}"


@dataclass
class ImportPlan:
    """What one import publishes (key -> Bundle, or None for a tombstone) and its report."""

    feed: str
    publications: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"directory import from {self.feed}: {len(self.added)} added, "
            f"{len(self.changed)} changed, {len(self.withdrawn)} withdrawn, "
            f"{self.unchanged} unchanged, {len(self.refused)} refused"
        )


def feed_of(bundle: Mapping[str, Any]) -> str | None:
    """The feed a directory entry came from (its HealthcareService's meta.source)."""
    try:
        source = bundle["entry"][0]["resource"]["meta"]["source"]
    except (KeyError, IndexError, TypeError):
        return None
    return source if isinstance(source, str) else None


def plan_import(
    records: Iterable[Any],
    current: Mapping[str, Mapping[str, Any]],
    feed: str,
    *,
    modified_after: datetime | None = None,
    on_record: Callable[[], None] | None = None,
) -> ImportPlan:
    """Decide, without I/O, what the feed's records change in the current directory."""
    plan = ImportPlan(feed)
    seen: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        if on_record is not None:
            on_record()
        try:
            result = read_service(record, feed)
        except RecordRefused as refused:
            plan.refused.append(Refusal(number, refused.service_id, tuple(refused.problems)))
            if refused.service_id is not None:
                seen.setdefault(refused.service_id, number)  # kept as it is, never withdrawn
            continue
        key = result.id
        if key in seen:
            plan.refused.append(
                Refusal(number, key, (f"id: {key} already appeared as record {seen[key]}",))
            )
            continue
        seen[key] = number
        existing = current.get(key)
        owner = feed_of(existing) if existing is not None else None
        if existing is not None and owner != feed:
            plan.refused.append(
                Refusal(number, key, (f"id: {key} is already in the directory from {owner}",))
            )
            continue
        if isinstance(result, Withdrawal):
            if existing is not None:
                plan.publications.append((key, None))
                plan.withdrawn.append(key)
            continue
        if (
            modified_after is not None
            and result.last_modified is not None
            and result.last_modified < modified_after
            and existing is not None
        ):
            plan.unchanged += 1
            continue
        bundle = to_bundle(result)
        if existing is None:
            plan.added.append(key)
        elif existing != bundle:
            plan.changed.append(key)
        else:
            plan.unchanged += 1
            continue
        plan.publications.append((key, bundle))
    if modified_after is None:
        if not seen and any(feed_of(existing) == feed for existing in current.values()):
            # An empty answer is far likelier a broken feed than every service closing.
            raise FeedError(f"{feed} listed no services: refusing to withdraw its whole directory")
        for key, existing in sorted(current.items()):
            if key not in seen and feed_of(existing) == feed:
                plan.publications.append((key, None))
                plan.withdrawn.append(key)
    return plan


def feed_name(source: str) -> str:
    """The default feed name: the API's base URL, or the file's name."""
    if source.startswith(("http://", "https://")):
        return source.rstrip("/")
    return Path(source).name


async def publish(
    settings: InfraSettings,
    topic: str,
    publications: list[tuple[str, dict[str, Any] | None]],
    on_sent: Callable[[], None] | None = None,
) -> None:
    """Every publication in order, with the hub's envelope; waits until the broker has them."""
    # One partition, and an idempotent producer sends one batch at a time to it: large
    # batches (well under the broker's 1 MB message limit) keep a 5,000-service import short.
    producer = make_producer(
        settings, enable_idempotence=True, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = []
        for key, bundle in publications:
            envelope = Envelope.new(PUBLISHED if bundle is not None else WITHDRAWN, FHIR_JSON)
            pending.append(
                await producer.send(
                    topic,
                    dumps(bundle) if bundle is not None else None,
                    key=key.encode(),
                    headers=envelope.to_headers(),
                )
            )
        for delivery in pending:
            await delivery
            if on_sent is not None:
                on_sent()
    finally:
        await producer.stop()


async def run_import(
    settings: InfraSettings,
    source: str,
    *,
    modified_after: datetime | None = None,
    dry_run: bool = False,
    feed: str | None = None,
    per_page: int = 100,
    show_progress: bool = True,
) -> ImportPlan:
    """Read the feed and the directory, decide, and (unless a dry run) publish the changes."""
    from hub_cli.progress import progress_bar

    name = feed or feed_name(source)
    if any(c.isspace() for c in name) or not name:
        raise ValueError(f"feed name {name!r}: must be non-empty without spaces (a URI)")
    topic = settings.topics.directory_services
    with progress_bar(quiet=not show_progress) as progress:
        if source.startswith(("http://", "https://")):
            pages = progress.add_task("pages", total=None)

            def on_page(number: int, total: int) -> None:
                progress.update(pages, completed=number, total=total)

            records = await fetch_services(
                source, modified_after=modified_after, per_page=per_page, on_page=on_page
            )
        else:
            records = await asyncio.to_thread(read_file, Path(source))
        current = await read_compacted(aiokafka_options(settings), topic)
        checking = progress.add_task("records", total=len(records))
        plan = plan_import(
            records,
            current,
            name,
            modified_after=modified_after,
            on_record=lambda: progress.advance(checking),
        )
        if not dry_run and plan.publications:
            sending = progress.add_task("published", total=len(plan.publications))
            await publish(
                settings, topic, plan.publications, on_sent=lambda: progress.advance(sending)
            )
    return plan


__all__ = ["FeedError", "ImportPlan", "Refusal", "feed_name", "plan_import", "run_import"]
