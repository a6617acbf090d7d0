"""Least-privilege Kafka ACLs: what each service may read and write, derived from the topics.

`referral-hub kafka acls` prints the plan as `kafka-acls` commands for an operator's broker,
the services' and (with `--agency`) each agency's; the tests create the SCRAM users and apply
the same grants on the local broker started by `deploy/local/stack.sh` (its admin tools are
among the jars it downloaded).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub_common.agency_formats import inbound_sources
from hub_common.messaging.topics import Topics

LOCAL_KAFKA_LIB = Path(__file__).resolve().parents[3] / ".local" / "kafka" / "lib"


@dataclass(frozen=True)
class Grant:
    """Allow `principal` the `operations` on topics or groups named (or prefixed) `names`."""

    principal: str
    operations: tuple[str, ...]
    resource: str  # "topic" or "group"
    names: tuple[str, ...]
    pattern: str = "literal"  # or "prefixed"

    def arguments(self) -> list[str]:
        args = ["--add", "--allow-principal", f"User:{self.principal}", "--force"]
        for operation in self.operations:
            args += ["--operation", operation]
        for name in self.names:
            args += [f"--{self.resource}", name]
        return [*args, "--resource-pattern-type", self.pattern]


def service_grants(topics: Topics, group_prefix: str = "") -> list[Grant]:
    """Each service reads only what it consumes and writes only what it produces."""
    read, write = ("Read", "Describe"), ("Write", "Describe")
    # Each agency's status topic is made by the first service to publish to it
    # (hub_common.messaging.on_demand): both writers may create them, by prefix.
    status = ("Write", "Describe", "Create")
    inbound_prefix = topics.inbound(inbound_sources()[0]).rsplit(".", 1)[0] + "."
    return [
        Grant("intake", read, "topic", (inbound_prefix,), "prefixed"),
        Grant("intake", write, "topic", (topics.requested, topics.rejected, topics.audit)),
        # Warnings of referrals accepted from Kafka go to their sender's own status topic.
        Grant("intake", status, "topic", (topics.status_prefix,), "prefixed"),
        Grant(
            "intake",
            ("Read",),
            "group",
            (f"{group_prefix}intake", f"{group_prefix}intake-data-protection"),
        ),
        # Erasure (hub_common.privacy.topic_erasure): intake deletes the records that carried a person
        # once every reader has read past them, so it may see every hub group's offsets.
        Grant(
            "intake",
            ("Delete",),
            "topic",
            (topics.requested, topics.rejected, inbound_prefix),
            "prefixed",
        ),
        Grant(
            "intake",
            ("Describe",),
            "group",
            tuple(f"{group_prefix}{name}" for name in ("intake", "router", "notifier")),
            "prefixed",
        ),
        Grant(
            "router", read, "topic", (topics.requested, topics.directory, topics.directory_services)
        ),
        Grant("router", write, "topic", (topics.tasks, topics.onward, topics.alerts, topics.audit)),
        Grant("router", ("Read",), "group", (f"{group_prefix}router",), "prefixed"),
        Grant(
            "notifier",
            read,
            "topic",
            (
                topics.requested,
                topics.tasks,
                topics.rejected,
                topics.audit,
                topics.alerts,
                topics.onward,
            ),
        ),
        Grant("notifier", status, "topic", (topics.status_prefix,), "prefixed"),
        Grant("notifier", write, "topic", (topics.audit,)),
        Grant("notifier", ("Read",), "group", (f"{group_prefix}notifier",), "prefixed"),
        # Erasure and restriction requests (hub_common.privacy.data_protection), and each answer.
        *(
            Grant(service, ("Read", "Write", "Describe"), "topic", (topics.data_protection,))
            for service in ("intake", "router", "notifier")
        ),
        # `referral-hub directory import` reads the directory back (no consumer group) to
        # know what it changes, then writes the changes.
        Grant(
            "directory-import", ("Read", "Write", "Describe"), "topic", (topics.directory_services,)
        ),
    ]


def agency_grants(
    user: str, topics: Topics, source: str, agency: str, group_prefix: str = ""
) -> list[Grant]:
    """An agency on Kafka: it writes its source's inbound topic and reads its own status
    topic (a literal name: no other agency's, docs/data-protection.md), in consumer groups
    named `agency.<user>.` and anything after; nothing else. `agency` is its `system|value`
    identifier as its referrals name it (an ODS code, or the hub's agency id)."""
    return [
        Grant(user, ("Write", "Describe"), "topic", (topics.inbound(source),)),
        Grant(user, ("Read", "Describe"), "topic", (topics.agency_status(source, agency),)),
        Grant(user, ("Read",), "group", (f"{group_prefix}agency.{user}.",), "prefixed"),
    ]


def _java(main_class: str, arguments: Iterable[str], lib: Path) -> None:
    if not lib.is_dir():
        raise RuntimeError(
            f"no Kafka tools at {lib}: start the local broker with deploy/local/stack.sh up"
        )
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Java is needed for the Kafka admin tools")
    result = subprocess.run(  # noqa: S603 - fixed main classes, arguments built above
        [java, "-cp", f"{lib}/*", main_class, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{main_class} failed: {result.stderr.strip()[-500:]}")


def create_scram_user(
    bootstrap: str, user: str, password: str, lib: Path = LOCAL_KAFKA_LIB
) -> None:
    _java(
        "kafka.admin.ConfigCommand",
        [
            "--bootstrap-server",
            bootstrap,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            user,
            "--add-config",
            f"SCRAM-SHA-512=[iterations=8192,password={password}]",
        ],
        lib,
    )


def apply_grants(bootstrap: str, grants: Iterable[Grant], lib: Path = LOCAL_KAFKA_LIB) -> None:
    for grant in grants:
        _java(
            "org.apache.kafka.tools.AclCommand",
            ["--bootstrap-server", bootstrap, *grant.arguments()],
            lib,
        )


def as_commands(grants: Iterable[Grant], bootstrap: str) -> list[str]:
    return [
        " ".join(["kafka-acls.sh", "--bootstrap-server", bootstrap, *g.arguments()]) for g in grants
    ]
