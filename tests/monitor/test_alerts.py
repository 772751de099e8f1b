"""Alert deduplication and delivery: a real HTTP receiver on 127.0.0.1 that fails twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from fimiscope.errors import ConfigError
from fimiscope.monitor import AlertBook, Finding, WebhookSink, list_alerts
from fimiscope.store import Store

T0, T1 = datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 2, tzinfo=UTC)


class _Receiver(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[int, str, dict[str, Any]]]] = []
    fail_first = 2

    def do_POST(self) -> None:
        body = orjson.loads(self.rfile.read(int(self.headers["content-length"])))
        status = 500 if len(self.calls) < self.fail_first else 200
        self.calls.append((status, self.headers["idempotency-key"], body))
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def _group(members: set[str], **detail: Any) -> Finding:
    return Finding(
        "new_group",
        "bluesky",
        "",
        "high",
        "g",
        {"traces": ["repost"], **detail},
        frozenset(members),
        float(len(members)),
    )


def test_webhook_failing_twice_gets_exactly_one_delivery(tmp_path: Path) -> None:
    _Receiver.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/hook", backoff=0.05)
        with Store(tmp_path / "s.duckdb") as store:
            book = AlertBook(store, "monitor-test", [sink])
            notes = book.record([_group({"a", "b", "c"})], since=T0, until=T1, detect_run="d1")
            sink.close()
        assert len(notes) == 1
        statuses = [c[0] for c in _Receiver.calls]
        assert statuses == [500, 500, 200]
        delivered = [c for c in _Receiver.calls if c[0] == 200]
        assert len(delivered) == 1
        assert delivered[0][2]["event"] == "new" and delivered[0][2]["kind"] == "new_group"
        assert delivered[0][1] == f"{notes[0].alert['alert_id']}:0"
        assert len({c[1] for c in _Receiver.calls}) == 1  # the retries carry the same key
        assert sink.delivered == 1 and sink.failed == 0
    finally:
        server.shutdown()
        server.server_close()


def test_one_alert_per_event_then_updates(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        book = AlertBook(store, "monitor-test")
        first = book.record([_group({"a", "b", "c", "d"})], since=T0, until=T1, detect_run="d1")
        assert [n.event for n in first] == ["new"]
        # The same group again, and a subset (Leiden's cut of it): no notification.
        assert (
            book.record(
                [_group({"a", "b", "c", "d"}), _group({"a", "b", "c"})],
                since=T0,
                until=T1,
                detect_run="d2",
            )
            == []
        )
        # It grows: one update of the same alert.
        grown = book.record(
            [_group({"a", "b", "c", "e", "f"})], since=T0, until=T1, detect_run="d3"
        )
        assert [(n.event, n.alert["notified_kind"]) for n in grown] == [("update", "group_grew")]
        # An unrelated group is a new alert.
        other = book.record([_group({"x", "y", "z"})], since=T0, until=T1, detect_run="d4")
        assert [n.event for n in other] == ["new"]
        rows = list_alerts(store)
        assert len(rows) == 2
        grew = next(r for r in rows if "a" in r["detail"]["members"])
        assert grew["updates"] == 1 and grew["detail"]["new_members"] == ["e", "f"]
        assert set(grew["detail"]["members"]) == {"a", "b", "c", "d", "e", "f"}
        assert grew["last_at"] >= grew["first_at"]
        # A boosted post: keyed by the post; updated only when the burst grows.
        post = Finding("boosted_post", "bluesky", "at://p/1", "high", "p", {}, size=12)
        assert len(book.record([post], since=T0, until=T1, detect_run="d5")) == 1
        assert book.record([post], since=T0, until=T1, detect_run="d6") == []
        bigger = Finding("boosted_post", "bluesky", "at://p/1", "high", "p", {}, size=20)
        assert [n.event for n in book.record([bigger], since=T0, until=T1, detect_run="d7")] == [
            "update"
        ]
        # A new session knows the earlier groups.
        again = AlertBook(store, "monitor-test-2")
        assert again.record([_group({"a", "b", "c"})], since=T0, until=T1, detect_run="d8") == []
        assert [r["alert_id"] for r in list_alerts(store, limit=1, offset=1)] == [
            r["alert_id"] for r in list_alerts(store)
        ][1:2]
        with pytest.raises(ConfigError):
            list_alerts(store, kind="nonsense")
