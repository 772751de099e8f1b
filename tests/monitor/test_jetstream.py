"""Jetstream over a real websocket server on 127.0.0.1: alerts, reconnection, quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fimiscope.monitor import JetstreamSource, JsonlSink, Monitor, WindowConfig, list_alerts
from fimiscope.monitor.replay import ReplayServer
from fimiscope.monitor.sources import time_us_of
from fimiscope.store import Store
from tests.monitor.conftest import canonical

GARBAGE = {
    40: b"{not json",
    77: b'{"did":"did:plc:x","time_us":"soon","kind":"commit"}',
    120: b"\xff\xfe binary",
}


def test_replay_with_drop_resumes_without_gap_or_duplicate_and_alerts(
    scenario: dict[str, Any], reference: dict[str, Any], tmp_path: Path
) -> None:
    lines = scenario["lines"]
    server = ReplayServer(lines, drop_after=[2500, 3000], garbage=GARBAGE).start()
    try:
        store = Store(tmp_path / "live.duckdb")
        alerts_file = tmp_path / "alerts.jsonl"
        source = JetstreamSource(server.url, capacity=2000)
        # Windows of four days of stream time, every two days, covering the whole stream: the
        # planted network's pile-ons fall inside them.
        mon = Monitor(
            store,
            source,
            windows=WindowConfig(span=4 * 86400, every=2 * 86400, catch_up="cover"),
            sinks=[JsonlSink(alerts_file)],
            batch_size=1000,
            idle_seconds=2,
            status_seconds=0.5,
            log=None,
        )
        stats = mon.run()
        # Two drops, two reconnections, each asking for the newest time_us received.
        assert len(server.connections) == 3
        assert "cursor=" in server.connections[1] and "cursor=" in server.connections[2]
        assert stats.stored == len(lines) + len(GARBAGE)
        assert canonical(store) == reference  # no gap, no duplicate
        rejects = store.sql("SELECT line, reason, path FROM rejects ORDER BY line")
        assert len(rejects) == len(GARBAGE)
        assert all(r[2] == source.key and r[0] is not None for r in rejects)
        assert any("invalid JSON" in r[1] for r in rejects)
        assert any("time_us" in r[1] for r in rejects)
        # The cursor is the newest stored time_us.
        newest = max(time_us_of(x) or 0 for x in lines)
        assert store.sql(
            "SELECT cursor FROM monitor_cursors WHERE source_key = ?", [source.key]
        ) == [(str(newest),)]
        # Backpressure: the queue stayed within its bound; status rows were written.
        assert stats.max_queue <= 2000 + 512
        assert (
            store.sql("SELECT count(*) FROM monitor_status WHERE run_id = ?", [stats.run_id])[0][0]
            >= 1
        )
        # The planted operation is alerted as a group of its own accounts.
        ops = scenario["ops"]["op_bot_network"] | scenario["ops"]["op_false_narrative"]
        groups = list_alerts(store, kind="new_group")
        assert groups, "no group alert"
        members = set(groups[0]["detail"]["members"])
        assert len(members & ops) / len(members) >= 0.8
        assert len({a["dedup_key"] for a in list_alerts(store, limit=1000)}) == len(
            list_alerts(store, limit=1000)
        )
        sent = alerts_file.read_text().splitlines()
        assert len(sent) == stats.alerts >= 1
        store.close()

        # A restart resumes from the stored cursor: nothing new, nothing doubled.
        store = Store(tmp_path / "live.duckdb")
        n_alerts = len(list_alerts(store, limit=1000))
        Monitor(store, JetstreamSource(server.url), windows=None, idle_seconds=1, log=None).run()
        assert server.connections[-1].endswith(f"cursor={newest}")
        assert canonical(store) == reference
        assert len(list_alerts(store, limit=1000)) == n_alerts
        store.close()
    finally:
        server.stop()


def test_wanted_collections_are_asked_for(scenario: dict[str, Any], tmp_path: Path) -> None:
    server = ReplayServer(scenario["lines"][:2000]).start()
    try:
        with Store(tmp_path / "s.duckdb") as store:
            Monitor(
                store,
                JetstreamSource(server.url, collections=["app.bsky.feed.repost"]),
                windows=None,
                idle_seconds=1,
                log=None,
            ).run()
            kinds = {k for (k,) in store.sql("SELECT DISTINCT kind FROM posts WHERE NOT is_stub")}
            assert kinds == {"repost"}
            assert store.count("engagements") == 0
        assert "wantedCollections=app.bsky.feed.repost" in server.connections[0]
    finally:
        server.stop()
