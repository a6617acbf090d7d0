"""`referral-hub`: set up the database and topics, load link worker rosters, import the
community services directory, issue credentials, check the service area.

Built on click (each command's `--help` ends with examples and the environment it reads) and
rich (progress bars on the long work: a roster, a replay of rejections, a directory import;
`hub_cli.progress`). Commands return an exit code; `main` turns what goes wrong into one line on
standard error naming the component and the setting to look at, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from hub_common.agency_formats import inbound_sources
from hub_common.fhir.systems import FHIR_JSON
from hub_common.jsonio import dumps
from hub_common.messaging.clients import aiokafka_options, make_producer
from hub_common.messaging.envelope import Envelope
from hub_common.messaging.kafka import ensure_topics, max_record_bytes
from hub_common.privacy.retention import RecordKind
from hub_common.security.auth import ROLES, Role
from hub_common.settings import DEFAULT_AGENCY_MESSAGE_MAX_BYTES, InfraSettings
from hub_common.storage import migrations

if TYPE_CHECKING:
    from hub_cli.subject_access import Export


def service_migrations() -> list[tuple[str, Path]]:
    from hub_intake.public import MIGRATIONS as INTAKE
    from hub_notifier.public import MIGRATIONS as NOTIFIER
    from hub_router.public import MIGRATIONS as ROUTER

    return [("intake", INTAKE), ("router", ROUTER), ("notifier", NOTIFIER)]


async def db_upgrade(settings: InfraSettings) -> None:
    for schema, location in service_migrations():
        await migrations.upgrade(settings.database_url, location, schema)
        print(f"database schema {schema}: up to date")


async def topics_ensure(settings: InfraSettings) -> None:
    created = await ensure_topics(
        aiokafka_options(settings),
        settings.topics,
        agency_message_max_bytes=settings.agency_message_max_bytes,
        replication_factor=settings.kafka_replication_factor,
        min_insync=settings.kafka_min_insync_replicas,
        retention=settings.retention_policy,
    )
    print(
        f"topics: {len(created)} created, {len(settings.topics.all()) - len(created)} already there"
        f"; events kept {settings.retention_policy.period(RecordKind.EVENT) or 'for ever'}"
    )


@contextlib.asynccontextmanager
async def started(producer: AIOKafkaProducer) -> AsyncIterator[AIOKafkaProducer]:
    """The producer, started, then stopped on every path: a start that fails (Kafka down)
    leaves connections open, and aiokafka complains of an unclosed producer at exit."""
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


async def workers_load(
    settings: InfraSettings, path: Path, *, check_only: bool = False, show_progress: bool = True
) -> None:
    """Check the whole roster, then publish each worker (with a progress bar on a terminal)."""
    from hub_cli.progress import progress_bar
    from hub_router.public import read_roster, to_practitioner_role

    entries = read_roster(path)
    if check_only:
        print(f"{path}: {len(entries)} link workers, no problems (nothing published)")
        return
    async with started(make_producer(settings, enable_idempotence=True)) as producer:
        with progress_bar(quiet=not show_progress) as progress:
            publishing = progress.add_task("link workers", total=len(entries))
            for entry in entries:
                role = to_practitioner_role(entry.worker, entry.name, entry.email)
                envelope = Envelope.new("LinkWorkerPublished", FHIR_JSON)
                await producer.send_and_wait(
                    settings.topics.directory,
                    dumps(role),
                    key=entry.worker.worker_id.encode(),
                    headers=envelope.to_headers(),
                )
                progress.advance(publishing)
    print(f"published {len(entries)} link workers to {settings.topics.directory}")


async def referrals_send(settings: InfraSettings, source: str, path: Path) -> None:
    """Publish a file as an agency would: raw bytes on referrals.inbound.<source>, no envelope."""
    topic = settings.topics.inbound(source)
    body = path.read_bytes()  # noqa: ASYNC240 - a one-shot command, nothing else runs meanwhile
    # Room for the largest message the hub takes (aiokafka's own default is 1 MiB).
    producer = make_producer(
        settings, max_request_size=max_record_bytes(settings.agency_message_max_bytes)
    )
    async with started(producer):
        await producer.send_and_wait(topic, body, key=path.stem.encode())
    print(f"sent {path.name} to {topic}")


async def referrals_replay_rejected(source: str | None, *, show_progress: bool = True) -> None:
    from hub_cli.progress import progress_bar
    from hub_intake.public import replay_rejected

    # The running intake service's outbox relay publishes whatever this replay accepts.
    with progress_bar(quiet=not show_progress) as progress:
        replaying = progress.add_task("rejections", total=None)
        report = await replay_rejected(
            source,
            on_progress=lambda done, total: progress.update(replaying, completed=done, total=total),
        )
    print(
        f"replayed {report.tried} rejected referrals: {report.accepted} accepted, "
        f"{report.still_rejected} still rejected"
    )


MAX_TTL_DAYS = 366
DEMO_AGENCY = "https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action"
DEVELOPMENT_SECRET = InfraSettings.model_fields["auth_secret"].default


@dataclass(frozen=True)
class CredentialRequest:
    """What `credentials issue` was asked for, before it is checked."""

    role: Role
    subject: str
    organisation: str | None = None
    sources: tuple[str, ...] = ()
    boroughs: tuple[str, ...] = ()
    name: str | None = None
    ttl_days: int = 90


def check_credential_arguments(request: CredentialRequest) -> None:
    """Refuse what would sign a token that cannot work, or works longer than anyone meant."""
    from hub_common.region.service_area import boroughs

    if not 1 <= request.ttl_days <= MAX_TTL_DAYS:
        raise ValueError(
            f"--ttl-days {request.ttl_days}: a credential lasts 1 to {MAX_TTL_DAYS} days "
            "(issue a new one when it ends)"
        )
    if request.organisation is not None:
        if request.role not in ("agency", "organisation"):
            raise ValueError("--organisation is for agency and organisation credentials only")
        if not request.organisation.strip():
            raise ValueError("--organisation is empty")
        system, _, value = request.organisation.partition("|")
        if request.role == "agency" and (not system.strip() or not value.strip()):
            raise ValueError(
                f"--organisation {request.organisation!r}: expected SYSTEM|VALUE, e.g. "
                "'https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action'"
            )
    if request.boroughs and request.role != "coordinator":
        raise ValueError("--borough is for coordinator credentials only")
    if request.sources and request.role != "agency":
        raise ValueError("--source is for agency credentials only")
    unknown = [name for name in request.boroughs if name not in boroughs()]
    if unknown:
        raise ValueError(
            f"unknown borough {', '.join(map(repr, unknown))}: "
            f"the hub's boroughs are {', '.join(boroughs())}"
        )


def credentials_issue(settings: InfraSettings, request: CredentialRequest) -> None:
    from hub_common.security.auth import Principal, issue_token

    check_credential_arguments(request)
    if settings.auth_secret == DEVELOPMENT_SECRET:
        print(
            "referral-hub: warning: HUB_AUTH_SECRET is the development default, so anyone "
            "can sign tokens the hub accepts; set a long random value outside development",
            file=sys.stderr,
        )
    principal = Principal(
        role=request.role,
        subject=request.subject,
        organisation=request.organisation,
        sources=request.sources,
        boroughs=request.boroughs,
        name=request.name,
    )
    if principal.role == "agency" and not principal.organisation:
        raise ValueError("an agency credential needs --organisation SYSTEM|VALUE")
    if principal.role == "organisation" and not principal.organisation:
        raise ValueError(
            "an organisation credential needs --organisation ORG-ID (its id in the services "
            "directory): it sees only the onward referrals sent to that organisation"
        )
    if principal.role == "coordinator":
        check_coordinator_boroughs(principal.boroughs)
    print(issue_token(settings.auth_secret, principal, ttl_seconds=request.ttl_days * 24 * 3600))


def check_coordinator_boroughs(boroughs: tuple[str, ...]) -> None:
    """A coordinator sees only the referrals of their boroughs: with none, or a misspelt one,
    the credential would work and show nothing, so it is refused saying how to scope it."""
    from hub_common.region.service_area import service_area

    known = service_area().boroughs
    example = " ".join(f"--borough {shlex.quote(name)}" for name in known[:2])
    if not boroughs:
        raise ValueError(
            "a coordinator credential needs the boroughs it covers, or it sees no referral: "
            f"give --borough once per borough, e.g. {example} "
            f"(the hub's boroughs: {', '.join(known)})"
        )
    unknown = [name for name in boroughs if name not in known]
    if unknown:
        raise ValueError(
            f"unknown borough {', '.join(map(repr, unknown))}: "
            f"the hub's boroughs are {', '.join(known)}"
        )


def service_area_report(path: str | None) -> str:
    """The area in `path` (or the configured one), checked, as an operator reads it."""
    from hub_common.region.service_area import read_service_area, service_area

    area = read_service_area(path) if path else service_area()
    lines = [
        f"{area.name} ({area.source}): {len(area.authorities)} local authorities, "
        f"{len(area.district_boroughs)} postcode districts, no problems"
    ]
    lines += [
        f"  {authority.code}  {authority.name}: {' '.join(authority.districts)}"
        for authority in area.authorities
    ]
    return "\n".join(lines)


SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def cli_asyncapi_document() -> dict[str, Any]:
    """What the operator's commands publish (no service consumes directory.services yet)."""
    from faststream.kafka import KafkaBroker
    from faststream.specification import AsyncAPI

    from hub_common.contract import declare_publications
    from hub_common.messaging.messages import BundleMessage, PractitionerRoleMessage
    from hub_common.messaging.topics import Topics

    topics = Topics()
    broker = KafkaBroker("127.0.0.1:9092")
    declare_publications(
        broker,
        {
            topics.directory: (
                "`referral-hub workers load`: a FHIR PractitionerRole per link "
                "worker, keyed by worker id (compacted).",
                PractitionerRoleMessage,
            ),
            topics.directory_services: (
                "`referral-hub directory import`: the community services "
                "directory from Open Referral UK. Key: the service's directory id. Value: a FHIR R4 "
                "Bundle of type collection, the HealthcareService first, then its Organization and "
                "Locations (example: schemas/examples/directory.services.json); headers event-type "
                "DirectoryServicePublished. A tombstone (null value, event-type "
                "DirectoryServiceWithdrawn) withdraws the service. Compacted: read from the "
                "beginning for the whole directory.",
                BundleMessage,
            ),
        },
    )
    spec = AsyncAPI(broker, title="Referral hub: cli", version="0.1.0", schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def contract_documents() -> dict[str, Any]:
    """Every generated contract document, by its path under schemas/ (production topic names)."""
    from hub_cli.examples import example_messages
    from hub_common.contract import (
        asyncapi_document,
        openapi_document,
        referrer_reference_naming_systems,
    )
    from hub_common.fhir.needs import snomed_concept_map
    from hub_intake.public import IntakeSettings, inbound_documents
    from hub_intake.public import build_app as intake_app
    from hub_notifier.public import NotifierSettings
    from hub_notifier.public import build_app as notifier_app
    from hub_router.public import RouterSettings
    from hub_router.public import build_app as router_app

    # The documents describe production: default addresses and unprefixed topics, whatever
    # this shell's environment says.
    production: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:9092",
        "topic_prefix": "",
        "agency_message_max_bytes": DEFAULT_AGENCY_MESSAGE_MAX_BYTES,
    }
    documents: dict[str, Any] = {}
    for name, app in (
        ("intake", intake_app(IntakeSettings(**production))),
        ("router", router_app(RouterSettings(**production))),
        ("notifier", notifier_app(NotifierSettings(**production))),
    ):
        documents[f"asyncapi/{name}.json"] = asyncapi_document(app, name)
        documents[f"openapi/{name}.json"] = openapi_document(app)
    documents["asyncapi/cli.json"] = cli_asyncapi_document()
    documents.update(example_messages())
    documents.update(inbound_documents())
    documents.update(referrer_reference_naming_systems())
    documents["fhir/ConceptMap-need-category-to-snomed.json"] = snomed_concept_map()
    return documents


def schemas_write() -> None:
    for relative, document in contract_documents().items():
        path = SCHEMAS / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            document
            if isinstance(document, str)
            else json.dumps(document, indent=2, sort_keys=True) + "\n"
        )
        path.write_text(text, encoding="utf-8")
        print(f"wrote schemas/{relative}")


# --- the command line -------------------------------------------------------------------------

ENVIRONMENT = (
    "KAFKA_BOOTSTRAP_SERVERS   Kafka (default 127.0.0.1:9092); KAFKA_SECURITY_PROTOCOL,",
    "                          KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD for SASL",
    "DATABASE_URL              PostgreSQL (db upgrade, referrals replay-rejected)",
    "HUB_TOPIC_PREFIX          namespace of the hub's topics (default none)",
    "HUB_AUTH_SECRET           signs credentials (credentials issue)",
    "HUB_SERVICE_AREA          the service area file (default: the South West London demo)",
)


def epilog(examples: Sequence[str], environment: Sequence[str] = ENVIRONMENT) -> str:
    """Examples, then the environment, laid out as written (click's `\\b` keeps the lines)."""
    parts = ["\b\nexamples:\n" + "\n".join(f"  {line}" for line in examples)]
    if environment:
        parts.append("\b\nenvironment:\n" + "\n".join(f"  {line}" for line in environment))
    return "\n\n".join(parts)


def roster_epilog() -> str:
    """The roster's columns, the environment and examples, for `workers load --help`."""
    from hub_router.public import COLUMN_HELP

    width = max(map(len, COLUMN_HELP))
    columns = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in COLUMN_HELP.items())
    return f"\b\ncolumns (a header row; JSON rows use the same names):\n{columns}\n\n" + epilog(
        [
            "referral-hub workers load deploy/demo/linkworkers.csv",
            "referral-hub workers load roster.csv --check   # report problems, publish nothing",
            "referral-hub workers load roster.csv --quiet   # no progress bar",
        ]
    )


def iso_moment(_ctx: click.Context, _param: click.Parameter, text: str | None) -> datetime | None:
    """An --modified-after value: ISO 8601, UTC when it names no offset."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date-time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def settings_of(ctx: click.Context) -> InfraSettings:
    """The shared settings, read from the environment once per run."""
    settings: InfraSettings = ctx.ensure_object(_Run).settings
    return settings


class _Run:
    """Per-run state on the click context: the settings, read on first use so that `--help`
    works whatever the environment says."""

    def __init__(self) -> None:
        self._settings: InfraSettings | None = None

    @property
    def settings(self) -> InfraSettings:
        if self._settings is None:
            self._settings = InfraSettings()
        return self._settings


QUIET = click.option(
    "--quiet", is_flag=True, help="no progress bar (none is drawn off a terminal either)"
)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(
    context_settings=CONTEXT,
    epilog=epilog(
        [
            "referral-hub db upgrade && referral-hub topics ensure",
            "referral-hub workers load deploy/demo/linkworkers.csv",
            "referral-hub directory import deploy/demo/swl-services.oruk.json",
            "referral-hub service-area check my-region.json",
            "referral-hub workers load --help   # each command's own help, with examples",
        ]
    ),
)
def cli() -> None:
    """Operate the referral hub: database, topics, link workers, the services directory,
    referrals, credentials, the service area. Each command has its own --help, with examples."""


@cli.group()
def db() -> None:
    """Database schemas."""


@db.command(
    "upgrade",
    epilog=epilog(
        ["referral-hub db upgrade"],
        [
            "DATABASE_URL   PostgreSQL (default postgresql+asyncpg://hub:hub@127.0.0.1:5432/referral_hub)"
        ],
    ),
)
@click.pass_context
def db_upgrade_command(ctx: click.Context) -> None:
    """Apply every service's migrations (intake, router, notifier), each in its own schema."""
    asyncio.run(db_upgrade(settings_of(ctx)))


@cli.group()
def topics() -> None:
    """Kafka topics."""


@topics.command(
    "ensure",
    epilog=epilog(
        [
            "referral-hub topics ensure",
            "HUB_KAFKA_REPLICATION_FACTOR=3 referral-hub topics ensure   # on a cluster",
        ],
        [
            *ENVIRONMENT[:4],
            "HUB_KAFKA_REPLICATION_FACTOR, HUB_KAFKA_MIN_INSYNC_REPLICAS, HUB_RETENTION",
        ],
    ),
)
@click.pass_context
def topics_ensure_command(ctx: click.Context) -> None:
    """Create any missing hub topic; bring existing ones to the retention schedule."""
    asyncio.run(topics_ensure(settings_of(ctx)))


@cli.group()
def workers() -> None:
    """The link worker directory."""


@workers.command("load", epilog=roster_epilog())
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="check the file and report; publish nothing")
@QUIET
@click.pass_context
def workers_load_command(ctx: click.Context, file: Path, check: bool, quiet: bool) -> None:
    """Publish a roster (CSV or JSON) to linkworkers.directory.

    Check a link worker roster as a whole, then publish each worker to linkworkers.directory (a
    FHIR PractitionerRole, keyed by worker id), with a progress bar on a terminal. A file with
    any problem publishes nothing: every bad row and column is reported at once. FILE is a .csv
    file, or .json (a list of rows).
    """
    asyncio.run(workers_load(settings_of(ctx), file, check_only=check, show_progress=not quiet))


@cli.group()
def directory() -> None:
    """The community services directory."""


@directory.command(
    "import",
    epilog=epilog(
        [
            "referral-hub directory import deploy/demo/swl-services.oruk.json",
            "referral-hub directory import https://api.example.gov.uk/oruk",
            "referral-hub directory import https://api.example.gov.uk/oruk \\",
            "    --modified-after 2026-11-01T00:00:00Z",
            "referral-hub directory import FILE-OR-URL --dry-run   # report only",
        ]
    ),
)
@click.argument("source")
@click.option(
    "--modified-after",
    callback=iso_moment,
    help="incremental: only services modified since (ISO 8601); withdraws none by absence",
)
@click.option("--dry-run", is_flag=True, help="report what would change, publish nothing")
@click.option("--feed", help="name of this feed (default: the URL, or the file's name)")
@click.option("--per-page", type=int, default=100, show_default=True, help="services per API page")
@QUIET
@click.pass_context
def directory_import_command(
    ctx: click.Context,
    source: str,
    modified_after: datetime | None,
    dry_run: bool,
    feed: str | None,
    per_page: int,
    quiet: bool,
) -> int:
    """Import Open Referral UK services to directory.services.

    SOURCE is an ORUK JSON file, or an ORUK / HSDS 3.0 API base URL. The import reads the
    directory as it stands, checks every record (a bad one is refused naming its field, and
    the import goes on), then publishes only what was added, changed or withdrawn, with a
    progress bar on a terminal (pages, records, published).
    """
    from hub_cli.directory.importer import run_import

    plan = asyncio.run(
        run_import(
            settings_of(ctx),
            source,
            modified_after=modified_after,
            dry_run=dry_run,
            feed=feed,
            per_page=per_page,
            show_progress=not quiet,
        )
    )
    for refusal in plan.refused:
        print(f"refused {refusal.line()}", file=sys.stderr)
    print(("dry run, nothing published: " if dry_run else "") + plan.summary())
    return 0


@cli.group()
def referrals() -> None:
    """Referrals."""


@referrals.command(
    "send",
    epilog=epilog(
        [
            "referral-hub referrals send community tests/fixtures/inbound/community-referral.json",
            "referral-hub referrals send housing tests/fixtures/inbound/housing-tenancy-referrals.csv",
        ],
        ENVIRONMENT[:4],
    ),
)
@click.argument("source", type=click.Choice(inbound_sources()))
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def referrals_send_command(ctx: click.Context, source: str, file: Path) -> None:
    """Publish an agency's referral file to referrals.inbound.SOURCE, as the agency would."""
    asyncio.run(referrals_send(settings_of(ctx), source, file))


@referrals.command(
    "replay-rejected",
    epilog=epilog(
        [
            "referral-hub referrals replay-rejected",
            "referral-hub referrals replay-rejected --source housing --quiet",
        ],
        [ENVIRONMENT[2], ENVIRONMENT[5]],
    ),
)
@click.option(
    "--source",
    type=click.Choice(inbound_sources()),
    help="replay only this format's rejections (default: every format's)",
)
@QUIET
def referrals_replay_rejected_command(source: str | None, quiet: bool) -> None:
    """Feed recorded rejections through intake again.

    Feed every recorded rejection not yet replayed through intake again, oldest first, exactly
    as if it had just arrived (after a fix to a format or the service area, say). Without
    --source, the rejections of every format are replayed; with it, only that format's.
    Rejections that still fail are left as they were; accepted ones are marked replayed and
    published by the running intake service. Progress: a bar of rejections replayed on a
    terminal (none with --quiet or off a terminal); at the end one line gives the counts
    (tried, accepted, still rejected), never referral content. It talks to the database
    (DATABASE_URL), not to Kafka.
    """
    asyncio.run(referrals_replay_rejected(source, show_progress=not quiet))


@cli.group()
def credentials() -> None:
    """API credentials."""


@credentials.command(
    "issue",
    epilog=epilog(
        [
            "referral-hub credentials issue --role coordinator --subject coord-south \\",
            '    --borough Croydon --borough Merton --name "South coordinator"',
            "referral-hub credentials issue --role link_worker --subject lw-croydon-01",
            "referral-hub credentials issue --role agency --subject cva --source community \\",
            "    --organisation 'https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action'",
            "referral-hub credentials issue --role operator --subject ops --ttl-days 7",
        ],
        [
            "HUB_AUTH_SECRET    the signing secret: the same value as the services'",
            "HUB_SERVICE_AREA   the service area whose boroughs --borough names",
        ],
    ),
)
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--subject", required=True, help="agency id, worker id or user name")
@click.option(
    "--organisation",
    help="agency's identifier as SYSTEM|VALUE (agencies); the directory organisation id "
    "(organisations)",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(inbound_sources()),
    help="formats an agency may send (repeat for each)",
)
@click.option(
    "--borough",
    "boroughs",
    multiple=True,
    help="a borough a coordinator covers (required for coordinators; repeat for each)",
)
@click.option("--name", help="display name")
@click.option(
    "--ttl-days",
    type=int,
    default=90,
    help=f"days the token is valid, 1 to {MAX_TTL_DAYS} (default 90)",
)
@click.pass_context
def credentials_issue_command(
    ctx: click.Context,
    role: Role,
    subject: str,
    organisation: str | None,
    sources: tuple[str, ...],
    boroughs: tuple[str, ...],
    name: str | None,
    ttl_days: int,
) -> None:
    """Print a signed bearer token for an agency, worker, coordinator, operator or community
    organisation.

    The token is signed with HUB_AUTH_SECRET, for the hub's APIs and the web app's sign-in.
    Warns when HUB_AUTH_SECRET is the development default.
    """
    request = CredentialRequest(role, subject, organisation, sources, boroughs, name, ttl_days)
    credentials_issue(settings_of(ctx), request)


@cli.group()
def demo() -> None:
    """Demonstrations on a local hub."""


@demo.command(
    "webhooks",
    epilog=epilog(
        ["referral-hub demo webhooks --port 8009", "make run DEMO=webhooks   # all of it"],
        [
            "HUB_AUTH_SECRET  signs the demo agency's token (the services' value)",
            "NOTIFIER_URL     the notifier (default http://127.0.0.1:8003)",
        ],
    ),
)
@click.option("--port", type=int, default=8009, help="where to listen (default 8009)")
@click.option(
    "--notifier",
    default=lambda: os.environ.get("NOTIFIER_URL", "http://127.0.0.1:8003"),
    help="the notifier's address (default NOTIFIER_URL, or http://127.0.0.1:8003)",
)
@click.option(
    "--organisation",
    default=DEMO_AGENCY,
    help="the subscribing agency as SYSTEM|VALUE (default the demo agency)",
)
@click.pass_context
def demo_webhooks_command(ctx: click.Context, port: int, notifier: str, organisation: str) -> None:
    """Receive the demo agency's signed webhooks on loopback and show them on a page.

    Subscribe the demo agency (Croydon Voluntary Action) to every change of its referrals with
    a webhook on this machine, check each delivery's signature, and list them at
    http://127.0.0.1:PORT/. The notifier must allow loopback endpoints
    (NOTIFIER_ALLOW_HTTP_ENDPOINTS=true): `make run DEMO=webhooks` does all of it.
    """
    from hub_cli.webhook_demo import run_demo

    asyncio.run(
        run_demo(
            auth_secret=settings_of(ctx).auth_secret,
            notifier_url=notifier,
            organisation=organisation,
            port=port,
        )
    )


@cli.group("subject-access")
def subject_access_group() -> None:
    """Data protection: everything the hub holds about one person."""


@subject_access_group.command(
    "export",
    epilog=epilog(
        [
            "referral-hub subject-access export --nhs-number 9990166137 --out requests/118",
            "referral-hub subject-access export --family Baptiste --birth-date 1968-02-29",
            "referral-hub subject-access export --referral <one of their referral ids>",
        ],
        [
            "HUB_OPERATOR_TOKEN  an operator's token (credentials issue --role operator)",
            "INTAKE_URL          intake (default http://127.0.0.1:8001)",
            "ROUTER_URL          the router (default http://127.0.0.1:8002)",
            "NOTIFIER_URL        the notifier (default http://127.0.0.1:8003)",
        ],
    ),
)
@click.option("--nhs-number", help="the person's NHS number")
@click.option("--family", help="family name (with --birth-date)")
@click.option("--birth-date", help="YYYY-MM-DD (with --family)")
@click.option("--postcode", help="to tell apart two people with one name and birth date")
@click.option("--referral", help="one of the person's referral ids")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="directory to write into (default .)",
)
def subject_access_export_command(
    nhs_number: str | None,
    family: str | None,
    birth_date: str | None,
    postcode: str | None,
    referral: str | None,
    out: Path,
) -> None:
    """Export everything the hub holds about one person: a FHIR Bundle and a summary.

    Finds the person through the notifier's person linking (every key given must agree), asks
    intake, the router and the notifier for their records with an operator's token, and
    writes subject-access-<id>.json (a FHIR collection Bundle) and subject-access-<id>.md (a
    readable summary) into --out. Each service records the export in the audit log first.
    """
    keys = {
        "nhs-number": nhs_number,
        "family": family,
        "birthdate": birth_date,
        "postcode": postcode,
        "referral": referral,
    }
    done = asyncio.run(subject_access_export({k: v for k, v in keys.items() if v}))
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"subject-access-{done.bundle['id']}"
    stem.with_suffix(".json").write_bytes(dumps(done.bundle))
    stem.with_suffix(".md").write_text(done.summary, encoding="utf-8")
    print(
        f"{len(done.referral_ids)} referral(s), {len(done.bundle.get('entry', []))} records in "
        f"{done.seconds:.2f} s: {stem}.json, {stem}.md"
    )


async def subject_access_export(keys: dict[str, str]) -> Export:
    """One person's export, with the operator's token and the services' addresses."""
    from hub_cli.subject_access import export

    token = os.environ.get("HUB_OPERATOR_TOKEN", "")
    if not token:
        raise ValueError("set HUB_OPERATOR_TOKEN to an operator's token")
    urls = {
        name: os.environ.get(f"{name.upper()}_URL", f"http://127.0.0.1:{port}")
        for name, port in (("intake", 8001), ("router", 8002), ("notifier", 8003))
    }
    return await export(urls, token, keys)


@cli.group()
def kafka() -> None:
    """Kafka security."""


@kafka.command(
    "acls",
    epilog=epilog(
        [
            "referral-hub kafka acls > acls.sh   # review, then run against the cluster",
            "referral-hub kafka acls --agency cva community \\",
            "    'https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action'",
            "referral-hub kafka acls --agency gp-a81001 fhir \\",
            "    'https://fhir.nhs.uk/Id/ods-organization-code|A81001'",
        ],
        [ENVIRONMENT[0], ENVIRONMENT[3]],
    ),
)
@click.option(
    "--agency",
    "agencies",
    nargs=3,
    multiple=True,
    metavar="USER SOURCE SYSTEM|VALUE",
    help="Also an agency's Kafka user: it writes SOURCE's inbound topic and reads its own "
    "status topic (named from SYSTEM|VALUE, its identifier as its referrals carry it: an ODS "
    "code or the hub's agency id) and nothing else. Repeat for each agency.",
)
@click.pass_context
def kafka_acls_command(ctx: click.Context, agencies: tuple[tuple[str, str, str], ...]) -> None:
    """Print the least-privilege ACLs of each service (and agency) as kafka-acls commands."""
    from hub_cli.kafka_acls import agency_grants, as_commands, service_grants

    settings = settings_of(ctx)
    lines = as_commands(
        service_grants(settings.topics, settings.topic_prefix), settings.kafka_bootstrap_servers
    )
    for user, source, agency in agencies:
        if "|" not in agency:
            raise ValueError(f"--agency {user}: expected SYSTEM|VALUE, not {agency!r}")
        grants = agency_grants(user, settings.topics, source, agency, settings.topic_prefix)
        topic = settings.topics.agency_status(source, agency)
        lines.append(f"# {user} reads its statuses on {topic}")
        lines += as_commands(grants, settings.kafka_bootstrap_servers)
    print("\n".join(lines))


@cli.group()
def schemas() -> None:
    """The contract documents."""


@schemas.command(
    "write", epilog=epilog(["referral-hub schemas write   # then commit schemas/"], ())
)
def schemas_write_command() -> None:
    """Regenerate schemas/asyncapi, schemas/openapi and the examples from the code."""
    schemas_write()


@cli.group("service-area")
def service_area_group() -> None:
    """The area the hub serves (README, Operations: adding a region)."""


@service_area_group.command(
    "check",
    epilog=epilog(
        [
            "referral-hub service-area check tests/fixtures/service-area-manchester.json",
            "referral-hub service-area check /etc/referral-hub/area.json && \\",
            "    HUB_SERVICE_AREA=/etc/referral-hub/area.json make run",
        ],
        (),
    ),
)
@click.argument("file")
def service_area_check_command(file: str) -> None:
    """Check a service area file, naming every problem by field (or line and column).

    FILE is the JSON file an operator means to give HUB_SERVICE_AREA: the area's name and its
    local authorities (GSS code, name, postcode districts). A good file is printed as the hub
    would read it.
    """
    print(service_area_report(file))


@service_area_group.command(
    "show",
    epilog=epilog(
        [
            "referral-hub service-area show",
            "HUB_SERVICE_AREA=area.json referral-hub service-area show",
        ],
        [ENVIRONMENT[5]],
    ),
)
def service_area_show_command() -> None:
    """Print the area in use: HUB_SERVICE_AREA's file, else the South West London demo."""
    print(service_area_report(None))


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. `--help` and usage errors exit as argparse did (0, 2)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    run = _Run()
    try:
        with cli.make_context("referral-hub", arguments, obj=run) as ctx:
            result = cli.invoke(ctx)
    except click.exceptions.Exit as done:  # --help
        raise SystemExit(done.exit_code) from None
    except click.ClickException as error:  # a usage error: say it the way click does
        error.show()
        raise SystemExit(error.exit_code) from None
    except ValidationError as error:  # a setting that cannot be used (HUB_SERVICE_AREA, ...)
        for problem in error.errors():
            print(f"referral-hub: {problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 1
    except Exception as error:
        return report_failure(arguments, run, error)
    return result if isinstance(result, int) else 0


def report_failure(arguments: list[str], run: _Run, error: Exception) -> int:
    """One line naming what failed and which setting says where it is; re-raises the unknown."""
    settings = run.settings
    handlers: list[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[], str]]]
    handlers = [
        (
            KafkaConnectionError,
            lambda: (
                f"Kafka at {settings.kafka_bootstrap_servers} did not answer: is it "
                "running, and is KAFKA_BOOTSTRAP_SERVERS right?"
            ),
        ),
        (FileNotFoundError, lambda: f"{getattr(error, 'filename', '')}: no such file"),
        (
            (ConnectionError, TimeoutError, socket.gaierror),
            lambda: unreachable(arguments, settings, error),
        ),
        ((ValueError, RuntimeError, OSError), lambda: str(error)),
    ]
    for kinds, message in handlers:
        if isinstance(error, kinds):
            print(f"referral-hub: {message()}", file=sys.stderr)
            return 1
    if type(error).__module__.startswith("asyncpg"):
        print(f"referral-hub: PostgreSQL at {database_address(settings)}: {error}", file=sys.stderr)
        return 1
    raise error


def database_address(settings: InfraSettings) -> str:
    """Host, port and database of DATABASE_URL, never its password."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def unreachable(arguments: list[str], settings: InfraSettings, error: Exception) -> str:
    """Which component did not answer, where, and which setting says where it is."""
    words = [word for word in arguments if not word.startswith("-")]
    uses_database = words[:1] == ["db"] or words[:2] == ["referrals", "replay-rejected"]
    what = (
        "refused the connection" if isinstance(error, ConnectionRefusedError) else "did not answer"
    )
    if uses_database:
        return (
            f"PostgreSQL at DATABASE_URL ({database_address(settings)}) {what}: "
            "is it running, and is DATABASE_URL right?"
        )
    return (
        f"Kafka at KAFKA_BOOTSTRAP_SERVERS ({settings.kafka_bootstrap_servers}) {what}: "
        "is it running, and is KAFKA_BOOTSTRAP_SERVERS right?"
    )


if __name__ == "__main__":
    sys.exit(main())
