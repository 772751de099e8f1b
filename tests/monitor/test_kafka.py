"""Kafka through librdkafka's built-in mock cluster: commits after storing, restart resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from fimiscope.monitor import KafkaSource, Monitor
from fimiscope.store import Store
from tests.monitor.conftest import canonical, ingest_lines

N = 3000


def _config(bootstrap: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": "fimiscope-test",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }


def test_kafka_commits_after_store_and_restart_resumes(
    scenario: dict[str, Any], tmp_path: Path
) -> None:
    lines = scenario["lines"][:N]
    producer = Producer({"test.mock.num.brokers": 1})
    broker = next(iter(producer.list_topics(timeout=10).brokers.values()))
    bootstrap = f"{broker.host}:{broker.port}"
    # One partition keeps the stream's order (Kafka orders within a partition only), so the
    # store must equal a plain ingest of the same lines; the mock topic has more partitions.
    for raw in lines:
        producer.produce("jetstream", value=raw, partition=0)
    producer.flush(10)

    path = tmp_path / "k.duckdb"
    with Store(path) as store:
        # A small queue, so that the first session has received only part of the topic
        # when it stops (what it received is stored before it exits).
        source = KafkaSource(["jetstream"], config=_config(bootstrap), capacity=300, batch=100)
        first = Monitor(
            store, source, windows=None, batch_size=400, max_events=1200, log=None
        ).run()
        assert 1200 <= first.stored < N
    with Store(path) as store:
        source = KafkaSource(["jetstream"], config=_config(bootstrap))
        second = Monitor(
            store,
            source,
            windows=None,
            batch_size=400,
            duration=60,
            max_events=N - first.stored,
            log=None,
        ).run()
        assert second.stored == N - first.stored
        got = canonical(store)
        cursor = store.sql("SELECT cursor, events FROM monitor_cursors")
    assert got == ingest_lines(tmp_path / "ref.duckdb", lines)
    assert cursor[0][1] == N
    # The group's committed offsets are one past the stored ones, partition by partition.
    import orjson

    stored = orjson.loads(cursor[0][0])
    check = Consumer({**_config(bootstrap), "enable.auto.commit": False})
    committed = check.committed(
        [TopicPartition("jetstream", int(k.split(":")[1])) for k in stored], timeout=10
    )
    check.close()
    assert {f"{tp.topic}:{tp.partition}": tp.offset - 1 for tp in committed} == stored
    assert sum(v + 1 for v in stored.values()) == N
