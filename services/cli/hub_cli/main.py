"""`referral-hub`: set up the database and topics, load link worker rosters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from hub_common import migrations
from hub_common.auth import ROLES
from hub_common.envelope import Envelope
from hub_common.fhir_systems import FHIR_JSON
from hub_common.jsonio import dumps
from hub_common.kafka import ensure_topics, max_record_bytes
from hub_common.kafka_clients import aiokafka_options, make_producer
from hub_common.retention import RecordKind
from hub_common.settings import DEFAULT_AGENCY_MESSAGE_MAX_BYTES, InfraSettings
from hub_common.topics import INBOUND_SOURCES


def service_migrations() -> list[tuple[str, Path]]:
    from hub_intake.config import MIGRATIONS as INTAKE
    from hub_notifier.config import MIGRATIONS as NOTIFIER
    from hub_router.config import MIGRATIONS as ROUTER

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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hub_cli.roster import read_roster
    from hub_router.adapters.practitioner_role import to_practitioner_role

    entries = read_roster(path)
    if check_only:
        print(f"{path}: {len(entries)} link workers, no problems (nothing published)")
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    )
    async with started(make_producer(settings, enable_idempotence=True)) as producer:
        with progress:
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


async def directory_import(settings: InfraSettings, args: argparse.Namespace) -> int:
    from hub_cli.directory.importer import run_import

    plan = await run_import(
        settings,
        args.source,
        modified_after=args.modified_after,
        dry_run=args.dry_run,
        feed=args.feed,
        per_page=args.per_page,
        show_progress=not args.quiet,
    )
    for refusal in plan.refused:
        print(f"refused {refusal.line()}", file=sys.stderr)
    print(("dry run, nothing published: " if args.dry_run else "") + plan.summary())
    return 0


def iso_moment(text: str) -> datetime:
    """An --modified-after value: ISO 8601, UTC when it names no offset."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 date-time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


ENVIRONMENT_HELP = """environment:
  KAFKA_BOOTSTRAP_SERVERS   Kafka (default 127.0.0.1:9092); KAFKA_SECURITY_PROTOCOL,
                            KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD for SASL
  DATABASE_URL              PostgreSQL (db upgrade, referrals replay-rejected)
  HUB_TOPIC_PREFIX          namespace of the hub's topics (default none)
  HUB_AUTH_SECRET           signs credentials (credentials issue)"""

CREDENTIALS_EXAMPLES = """examples:
  referral-hub credentials issue --role coordinator --subject coord-south \\
      --borough Croydon --borough Merton --name "South coordinator"
  referral-hub credentials issue --role link_worker --subject lw-croydon-01
  referral-hub credentials issue --role agency --subject cva --source community \\
      --organisation 'https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action'
  referral-hub credentials issue --role operator --subject ops --ttl-days 7

environment:
  HUB_AUTH_SECRET   the signing secret: the same value as the services'"""


def roster_help() -> str:
    """The roster's columns, the environment and an example, for `workers load --help`."""
    from hub_cli.roster import COLUMN_HELP

    width = max(map(len, COLUMN_HELP))
    columns = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in COLUMN_HELP.items())
    return (
        f"columns (a header row; JSON rows use the same names):\n{columns}\n\n"
        "example:\n  referral-hub workers load deploy/demo/linkworkers.csv\n"
        "  referral-hub workers load roster.csv --check   # report problems, publish nothing\n\n"
        + ENVIRONMENT_HELP
    )


MAX_TTL_DAYS = 366
DEMO_AGENCY = "https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action"
DEVELOPMENT_SECRET = InfraSettings.model_fields["auth_secret"].default


def check_credential_arguments(args: argparse.Namespace) -> None:
    """Refuse what would sign a token that cannot work, or works longer than anyone meant."""
    from hub_common.service_area import boroughs

    if not 1 <= args.ttl_days <= MAX_TTL_DAYS:
        raise ValueError(
            f"--ttl-days {args.ttl_days}: a credential lasts 1 to {MAX_TTL_DAYS} days "
            "(issue a new one when it ends)"
        )
    if args.organisation is not None:
        if args.role not in ("agency", "organisation"):
            raise ValueError("--organisation is for agency and organisation credentials only")
        if not args.organisation.strip():
            raise ValueError("--organisation is empty")
        system, _, value = args.organisation.partition("|")
        if args.role == "agency" and (not system.strip() or not value.strip()):
            raise ValueError(
                f"--organisation {args.organisation!r}: expected SYSTEM|VALUE, e.g. "
                "'https://referral-hub.org/fhir/Id/agency|community:croydon-voluntary-action'"
            )
    if args.borough and args.role != "coordinator":
        raise ValueError("--borough is for coordinator credentials only")
    if args.source and args.role != "agency":
        raise ValueError("--source is for agency credentials only")
    unknown = [name for name in args.borough or () if name not in boroughs()]
    if unknown:
        raise ValueError(
            f"unknown borough {', '.join(map(repr, unknown))}: "
            f"the hub's boroughs are {', '.join(boroughs())}"
        )


def credentials_issue(settings: InfraSettings, args: argparse.Namespace) -> None:
    from hub_common.auth import Principal, issue_token

    check_credential_arguments(args)
    if settings.auth_secret == DEVELOPMENT_SECRET:
        print(
            "referral-hub: warning: HUB_AUTH_SECRET is the development default, so anyone "
            "can sign tokens the hub accepts; set a long random value outside development",
            file=sys.stderr,
        )
    principal = Principal(
        role=args.role,
        subject=args.subject,
        organisation=args.organisation,
        sources=tuple(args.source or ()),
        boroughs=tuple(args.borough or ()),
        name=args.name,
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
    print(issue_token(settings.auth_secret, principal, ttl_seconds=args.ttl_days * 24 * 3600))


def check_coordinator_boroughs(boroughs: tuple[str, ...]) -> None:
    """A coordinator sees only the referrals of their boroughs: with none, or a misspelt one,
    the credential would work and show nothing, so it is refused saying how to scope it."""
    from hub_common.service_area import service_area

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


async def referrals_replay_rejected(source: str | None) -> None:
    from hub_common.db import make_engine, make_session_factory
    from hub_intake.adapters.formats import registered_formats
    from hub_intake.config import IntakeSettings
    from hub_intake.service_layer.intake import IntakeService
    from hub_intake.service_layer.replay import replay_rejections

    settings = IntakeSettings()
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        # The running intake service's outbox relay publishes whatever this replay accepts.
        sessions = make_session_factory(engine)
        service = IntakeService(sessions, registered_formats(), settings.topics)
        report = await replay_rejections(sessions, service, source)
    finally:
        await engine.dispose()
    print(
        f"replayed {report.tried} rejected referrals: {report.accepted} accepted, {report.still_rejected} still rejected"
    )


def service_area_report(path: str | None) -> str:
    """The area in `path` (or the configured one), checked, as an operator reads it."""
    from hub_common.service_area import read_service_area, service_area

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
    from hub_common.topics import Topics

    topics = Topics()
    broker = KafkaBroker("127.0.0.1:9092")
    declare_publications(
        broker,
        {
            topics.directory: "`referral-hub workers load`: a FHIR PractitionerRole per link "
            "worker, keyed by worker id (compacted).",
            topics.directory_services: "`referral-hub directory import`: the community services "
            "directory from Open Referral UK. Key: the service's directory id. Value: a FHIR R4 "
            "Bundle of type collection, the HealthcareService first, then its Organization and "
            "Locations (example: schemas/examples/directory.services.json); headers event-type "
            "DirectoryServicePublished. A tombstone (null value, event-type "
            "DirectoryServiceWithdrawn) withdraws the service. Compacted: read from the "
            "beginning for the whole directory.",
        },
    )
    spec = AsyncAPI(broker, title="Referral hub: cli", version="0.1.0", schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def contract_documents() -> dict[str, dict[str, object]]:
    """Every generated contract document, by its path under schemas/ (production topic names)."""
    from hub_cli.examples import example_messages
    from hub_common.contract import asyncapi_document, openapi_document
    from hub_common.needs import snomed_concept_map
    from hub_intake.bootstrap import build_app as intake_app
    from hub_intake.config import IntakeSettings
    from hub_notifier.bootstrap import build_app as notifier_app
    from hub_notifier.config import NotifierSettings
    from hub_router.bootstrap import build_app as router_app
    from hub_router.config import RouterSettings

    # The documents describe production: default addresses and unprefixed topics, whatever
    # this shell's environment says.
    production: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:9092",
        "topic_prefix": "",
        "agency_message_max_bytes": DEFAULT_AGENCY_MESSAGE_MAX_BYTES,
    }
    documents: dict[str, dict[str, object]] = {}
    for name, app in (
        ("intake", intake_app(IntakeSettings(**production))),
        ("router", router_app(RouterSettings(**production))),
        ("notifier", notifier_app(NotifierSettings(**production))),
    ):
        documents[f"asyncapi/{name}.json"] = asyncapi_document(app, name)
        documents[f"openapi/{name}.json"] = openapi_document(app)
    documents["asyncapi/cli.json"] = cli_asyncapi_document()
    documents.update(example_messages())
    documents["fhir/ConceptMap-need-category-to-snomed.json"] = snomed_concept_map()
    return documents


def schemas_write() -> None:
    for relative, document in contract_documents().items():
        path = SCHEMAS / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote schemas/{relative}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="referral-hub",
        description="Operate the referral hub.",
        epilog=ENVIRONMENT_HELP + "\n\nEach command has its own --help, with examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schemas").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="apply every service's migrations")
    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(
        dest="action", required=True
    )
    topics.add_parser(
        "ensure",
        help="create any missing hub topic; bring existing ones to the retention schedule",
    )
    workers = commands.add_parser("workers", help="the link worker directory").add_subparsers(
        dest="action", required=True
    )
    load = workers.add_parser(
        "load",
        help="publish a roster (CSV or JSON) to linkworkers.directory",
        description="Check a link worker roster as a whole, then publish each worker to "
        "linkworkers.directory (a FHIR PractitionerRole, keyed by worker id). A file with any "
        "problem publishes nothing: every bad row and column is reported at once.",
        epilog=roster_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", type=Path, help="the roster: a .csv file, or .json (a list of rows)")
    load.add_argument(
        "--check", action="store_true", help="check the file and report; publish nothing"
    )
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    directory = commands.add_parser(
        "directory", help="the community services directory"
    ).add_subparsers(dest="action", required=True)
    importing = directory.add_parser(
        "import",
        help="import Open Referral UK services (a JSON file or an API base URL) "
        "to directory.services",
    )
    importing.add_argument("source", help="an ORUK JSON file, or an ORUK / HSDS 3.0 API base URL")
    importing.add_argument(
        "--modified-after",
        type=iso_moment,
        help="incremental: only services modified since (ISO 8601); withdraws none by absence",
    )
    importing.add_argument(
        "--dry-run", action="store_true", help="report what would change, publish nothing"
    )
    importing.add_argument(
        "--feed", help="name of this feed (default: the URL, or the file's name)"
    )
    importing.add_argument("--per-page", type=int, default=100, help="services per API page")
    importing.add_argument("--quiet", action="store_true", help="no progress bar")
    referrals = commands.add_parser("referrals", help="referrals").add_subparsers(
        dest="action", required=True
    )
    send = referrals.add_parser(
        "send", help="publish an agency's referral file to referrals.inbound.SOURCE"
    )
    send.add_argument("source", choices=INBOUND_SOURCES)
    send.add_argument("file", type=Path)
    credentials = commands.add_parser("credentials", help="API credentials").add_subparsers(
        dest="action", required=True
    )
    issue = credentials.add_parser(
        "issue",
        help="print a signed bearer token for an agency, worker, coordinator, operator or "
        "community organisation",
        description="Print a bearer token signed with HUB_AUTH_SECRET for the hub's APIs and "
        "the web app's sign-in. Warns when HUB_AUTH_SECRET is the development default.",
        epilog=CREDENTIALS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    issue.add_argument("--role", required=True, choices=list(ROLES))
    issue.add_argument("--subject", required=True, help="agency id, worker id or user name")
    issue.add_argument(
        "--organisation",
        help="agency's identifier as SYSTEM|VALUE (agencies); the directory organisation id "
        "(organisations)",
    )
    issue.add_argument(
        "--source", action="append", choices=INBOUND_SOURCES, help="formats an agency may send"
    )
    issue.add_argument(
        "--borough",
        action="append",
        help="a borough a coordinator covers (required for coordinators; repeat for each)",
    )
    issue.add_argument("--name", help="display name")
    issue.add_argument(
        "--ttl-days",
        type=int,
        default=90,
        help=f"days the token is valid, 1 to {MAX_TTL_DAYS} (default 90)",
    )
    replay = referrals.add_parser(
        "replay-rejected",
        help="feed recorded rejections through intake again",
        description="Feed every recorded rejection not yet replayed through intake again, "
        "oldest first, exactly as if it had just arrived (after a fix to a format or the "
        "service area, say). Without --source, the rejections of every format are replayed; "
        "with it, only that format's. Rejections that still fail are left as they were; "
        "accepted ones are marked replayed and published by the running intake service. "
        "Progress: nothing is printed while it works; at the end one line gives the counts "
        "(tried, accepted, still rejected), never referral content. It talks to the database "
        "(DATABASE_URL), not to Kafka.",
    )
    replay.add_argument(
        "--source",
        choices=INBOUND_SOURCES,
        help="replay only this format's rejections (default: every format's)",
    )
    demo = commands.add_parser("demo", help="demonstrations on a local hub").add_subparsers(
        dest="action", required=True
    )
    webhooks = demo.add_parser(
        "webhooks",
        help="receive the demo agency's signed webhooks on loopback and show them on a page",
        description="Subscribe the demo agency (Croydon Voluntary Action) to every change of "
        "its referrals with a webhook on this machine, check each delivery's signature, and "
        "list them at http://127.0.0.1:PORT/. The notifier must allow loopback endpoints "
        "(NOTIFIER_ALLOW_HTTP_ENDPOINTS=true): `make run DEMO=webhooks` does all of it.",
        epilog="environment:\n  HUB_AUTH_SECRET  signs the demo agency's token (the services' "
        "value)\n  NOTIFIER_URL     the notifier (default http://127.0.0.1:8003)\n\n"
        "example:\n  referral-hub demo webhooks --port 8009",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    webhooks.add_argument("--port", type=int, default=8009, help="where to listen (default 8009)")
    webhooks.add_argument(
        "--notifier",
        default=os.environ.get("NOTIFIER_URL", "http://127.0.0.1:8003"),
        help="the notifier's address (default NOTIFIER_URL, or http://127.0.0.1:8003)",
    )
    webhooks.add_argument(
        "--organisation",
        default=DEMO_AGENCY,
        help="the subscribing agency as SYSTEM|VALUE (default the demo agency)",
    )
    area = commands.add_parser("service-area", help="the area the hub serves").add_subparsers(
        dest="action", required=True
    )
    area.add_parser("check", help="check a service area file, naming every problem").add_argument(
        "file", help="the JSON file an operator means to give HUB_SERVICE_AREA"
    )
    area.add_parser("show", help="the area in use (HUB_SERVICE_AREA, else the demo)")
    kafka = commands.add_parser("kafka", help="Kafka security").add_subparsers(
        dest="action", required=True
    )
    kafka.add_parser(
        "acls", help="print the least-privilege ACLs of each service as kafka-acls commands"
    )
    schemas = commands.add_parser("schemas", help="the contract documents").add_subparsers(
        dest="action", required=True
    )
    schemas.add_parser(
        "write", help="regenerate schemas/asyncapi and schemas/openapi from the code"
    )
    args = parser.parse_args(argv)

    try:
        settings = InfraSettings()
    except ValidationError as error:
        for problem in error.errors():
            print(f"referral-hub: {problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 1
    try:
        if args.command == "db":
            asyncio.run(db_upgrade(settings))
        elif args.command == "topics":
            asyncio.run(topics_ensure(settings))
        elif args.command == "referrals" and args.action == "send":
            asyncio.run(referrals_send(settings, args.source, args.file))
        elif args.command == "referrals":
            asyncio.run(referrals_replay_rejected(args.source))
        elif args.command == "credentials":
            credentials_issue(settings, args)
        elif args.command == "demo":
            from hub_cli.webhook_demo import run_demo

            asyncio.run(
                run_demo(
                    auth_secret=settings.auth_secret,
                    notifier_url=args.notifier,
                    organisation=args.organisation,
                    port=args.port,
                )
            )
        elif args.command == "kafka":
            from hub_cli.kafka_acls import as_commands, service_grants

            grants = service_grants(settings.topics, settings.topic_prefix)
            print("\n".join(as_commands(grants, settings.kafka_bootstrap_servers)))
        elif args.command == "schemas":
            schemas_write()
        elif args.command == "service-area":
            print(service_area_report(getattr(args, "file", None)))
        elif args.command == "workers":
            asyncio.run(
                workers_load(
                    settings, args.file, check_only=args.check, show_progress=not args.quiet
                )
            )
        elif args.command == "directory":
            return asyncio.run(directory_import(settings, args))
    except KafkaConnectionError:
        print(
            f"referral-hub: Kafka at {settings.kafka_bootstrap_servers} did not answer: is it "
            "running, and is KAFKA_BOOTSTRAP_SERVERS right?",
            file=sys.stderr,
        )
        return 1
    except FileNotFoundError as error:
        print(f"referral-hub: {error.filename}: no such file", file=sys.stderr)
        return 1
    except (ConnectionError, TimeoutError, socket.gaierror) as error:
        print(f"referral-hub: {unreachable(args, settings, error)}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, OSError) as error:
        print(f"referral-hub: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        if type(error).__module__.startswith("asyncpg"):
            print(
                f"referral-hub: PostgreSQL at {database_address(settings)}: {error}",
                file=sys.stderr,
            )
            return 1
        raise
    return 0


def database_address(settings: InfraSettings) -> str:
    """Host, port and database of DATABASE_URL, never its password."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def unreachable(args: argparse.Namespace, settings: InfraSettings, error: Exception) -> str:
    """Which component did not answer, where, and which setting says where it is."""
    uses_database = args.command == "db" or (
        args.command == "referrals" and args.action == "replay-rejected"
    )
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
