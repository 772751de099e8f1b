"""The throughput machinery: pipelined batches, the store's checkpoint setting, looped replays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fimiscope.errors import ConfigError
from fimiscope.monitor import FileTailSource, JetstreamSource, Monitor
from fimiscope.monitor.replay import ReplayServer
from fimiscope.monitor.sources import time_us_of
from fimiscope.store import Store
from tests.monitor.conftest import canonical, write_lines


def _setting(store: Store) -> str:
    return store.sql("SELECT current_setting('checkpoint_threshold')")[0][0]


def test_pipelined_small_batches_store_what_a_plain_ingest_stores(
    scenario: dict[str, Any], reference: dict[str, Any], tmp_path: Path
) -> None:
    # Many small batches: each is parsed and staged while the previous one merges.
    path = write_lines(tmp_path / "in.jsonl", scenario["lines"])
    with Store(tmp_path / "p.duckdb") as store:
        before = _setting(store)
        stats = Monitor(
            store,
            FileTailSource(path, follow=False, capacity=3000),
            windows=None,
            batch_size=700,
            log=None,
        ).run()
        assert stats.stored == len(scenario["lines"])
        assert stats.batches >= len(scenario["lines"]) // 700
        assert canonical(store) == reference
        # Line numbers of the session are consecutive however batches overlapped.
        assert store.sql("SELECT events FROM monitor_cursors") == [(len(scenario["lines"]),)]
        assert set(stats.stages) == {"parse", "stage", "merge"}
        assert 0 <= stats.first_batch_at <= stats.last_batch_at  # type: ignore[operator]
        # The session's checkpoint threshold is given back to the store.
        assert _setting(store) == before


def test_rejects_keep_their_frame_numbers_across_pipelined_batches(tmp_path: Path) -> None:
    good = b'{"did":"did:plc:aaaa","time_us":%d,"kind":"account","account":{"active":true}}'
    lines = [good % (1_700_000_000_000_000 + i) for i in range(50)]
    lines[7] = b"{broken"
    lines[33] = b'{"did":"did:plc:aaaa","time_us":-4,"kind":"account"}'
    path = write_lines(tmp_path / "r.jsonl", lines)
    with Store(tmp_path / "r.duckdb") as store:
        Monitor(
            store, FileTailSource(path, follow=False), windows=None, batch_size=5, log=None
        ).run()
        assert [r[0] for r in store.sql("SELECT line FROM rejects ORDER BY line")] == [8, 34]


def test_bad_detect_share_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "x.duckdb") as store:
        mon = Monitor(store, FileTailSource(tmp_path / "none.jsonl", follow=False), detect_share=0)
        with pytest.raises(ConfigError):
            mon.run()


def test_looped_replay_shifts_times_and_renames_accounts(scenario: dict[str, Any]) -> None:
    lines = scenario["lines"][:200]
    server = ReplayServer(lines, loops=3)
    n = len(lines)
    assert len(server) == 3 * n
    assert server.event(5) == lines[5]
    times = [server._time_us(j) for j in range(3 * n)]
    assert times == sorted(times)
    for j in (n + 5, 2 * n + 5):
        copy = orjson.loads(server.event(j))
        orig = orjson.loads(lines[5])
        assert copy["did"] != orig["did"] and copy["did"].startswith("did:plc:l")
        assert copy["time_us"] == time_us_of(server.event(j)) == times[j] > orig["time_us"]
        record = (copy.get("commit") or {}).get("record") or {}
        if "createdAt" in record:
            assert record["createdAt"] > orig["commit"]["record"]["createdAt"]


def test_looped_replay_resumes_from_a_cursor_in_a_later_copy(
    scenario: dict[str, Any], tmp_path: Path
) -> None:
    lines = scenario["lines"][:300]
    server = ReplayServer(lines, loops=2, drop_after=[450]).start()
    try:
        with Store(tmp_path / "l.duckdb") as store:
            stats = Monitor(
                store,
                JetstreamSource(server.url),
                windows=None,
                batch_size=100,
                idle_seconds=1.5,
                log=None,
            ).run()
            # The reconnection asked for the cursor inside the second copy: nothing lost.
            assert len(server.connections) == 2 and "cursor=" in server.connections[1]
            assert stats.stored == 600
            assert store.sql("SELECT count(*) FROM rejects")[0][0] == 0
    finally:
        server.stop()
