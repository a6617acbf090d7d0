"""Topics on a cluster: replicas and min.insync.replicas from settings; several brokers named."""

from __future__ import annotations

import pytest

from hub_common.messaging.clients import aiokafka_options, bootstrap_list
from hub_common.messaging.kafka import min_insync_replicas, topic_configs
from hub_common.messaging.topics import Topics
from hub_common.settings import InfraSettings


def test_several_brokers_become_a_list_aiokafka_connects_to() -> None:
    assert bootstrap_list("127.0.0.1:9092, 127.0.0.1:9192,127.0.0.1:9292,") == [
        "127.0.0.1:9092",
        "127.0.0.1:9192",
        "127.0.0.1:9292",
    ]
    settings = InfraSettings(kafka_bootstrap_servers="a:1,b:2")
    assert aiokafka_options(settings)["bootstrap_servers"] == ["a:1", "b:2"]


def test_no_broker_is_an_error() -> None:
    with pytest.raises(ValueError, match="names no broker"):
        bootstrap_list(" , ")


def test_two_of_three_replicas_must_have_each_write_by_default() -> None:
    assert min_insync_replicas(3) == 2
    assert min_insync_replicas(1) == 1
    assert min_insync_replicas(3, 3) == 3
    with pytest.raises(ValueError, match="more than the replication factor"):
        min_insync_replicas(3, 4)


def test_replicated_topics_carry_min_insync_and_single_ones_do_not() -> None:
    topics = Topics("")
    assert "min.insync.replicas" not in topic_configs(topics, topics.requested)
    replicated = topic_configs(topics, topics.requested, replication_factor=3)
    assert replicated["min.insync.replicas"] == "2"
    compacted = topic_configs(topics, topics.directory, replication_factor=3, min_insync=3)
    assert compacted == {"min.insync.replicas": "3", "cleanup.policy": "compact"}


def test_settings_read_the_replication_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("HUB_KAFKA_MIN_INSYNC_REPLICAS", "2")
    settings = InfraSettings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)
