"""Kafka clients built from settings, so every connection authenticates the same way.

With `KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT` (or `SASL_SSL`) and a SCRAM user, the broker's
ACLs decide what each service may read and write; PLAINTEXT is for loopback development.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from hub_common.settings import InfraSettings


def bootstrap_list(servers: str) -> list[str]:
    """`host:port,host:port` as the list aiokafka wants: given one string, aiokafka takes it
    for a single address, so a cluster's comma-separated brokers would never connect."""
    hosts = [host.strip() for host in servers.split(",") if host.strip()]
    if not hosts:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS names no broker")
    return hosts


def aiokafka_options(settings: InfraSettings) -> dict[str, Any]:
    """Connection keyword arguments for aiokafka clients (producers, consumers, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(settings.kafka_bootstrap_servers)
    }
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return options
    if not (settings.kafka_sasl_username and settings.kafka_sasl_password):
        raise ValueError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        )
    options.update(
        security_protocol=protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_plain_username=settings.kafka_sasl_username,
        sasl_plain_password=settings.kafka_sasl_password,
    )
    if protocol == "SASL_SSL":
        options["ssl_context"] = ssl.create_default_context()
    return options


def _faststream_security(settings: InfraSettings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    options = aiokafka_options(settings)  # validates the user and password are there
    scram = (
        SASLScram256 if settings.kafka_sasl_mechanism.upper() == "SCRAM-SHA-256" else SASLScram512
    )
    return scram(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        use_ssl=protocol == "SASL_SSL",
    )


def make_broker(settings: InfraSettings, client_id: str) -> KafkaBroker:
    """The FastStream broker of a service."""
    return KafkaBroker(
        bootstrap_list(settings.kafka_bootstrap_servers),
        client_id=client_id,
        security=_faststream_security(settings),
        # Through the service's own log handler (one line a record, control characters
        # escaped): FastStream's default writes message ids from Kafka headers verbatim.
        logger=logging.getLogger("faststream.broker"),
        # Its "Received"/"Processed" line per message only at DEBUG: each service already logs
        # what it did with a message, by id.
        log_level=logging.DEBUG,
    )


def make_producer(settings: InfraSettings, **extra: Any) -> AIOKafkaProducer:
    """An aiokafka producer with this process's credentials."""
    return AIOKafkaProducer(**aiokafka_options(settings), **extra)
