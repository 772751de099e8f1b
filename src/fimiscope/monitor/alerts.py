"""Alerts: deduplicated in the store, then sent to stdout, a JSON Lines file and a webhook.

One event gives one row of ``alerts``; when a later window sees it again (a known group with
new members, a boosted post with more boosters, a hashtag still spiking higher) the row is
updated (``updates`` + 1, ``last_at``) and an update notification goes out. A group is "known"
when its members overlap an alerted group's members: Jaccard >= ``group_jaccard`` or at least
``group_containment`` of the new group already in it (Leiden may split one operation
differently from window to window).

Sinks receive notifications as dicts (``event``: ``new`` or ``update``); the webhook sink
delivers from its own thread, retrying with exponential backoff, so a slow receiver never
holds up the stream.
"""

from __future__ import annotations

import hashlib
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, MissingDependencyError
from fimiscope.monitor.schema import ALERT_KINDS, ALERTS
from fimiscope.store import Store

_COLUMNS = ALERTS.column_names


@dataclass
class Finding:
    """Something a window found, before deduplication."""

    kind: str
    platform: str | None
    key: str
    """Identity: for groups a placeholder (matched by members), else a stable key."""
    severity: str
    title: str
    detail: dict[str, Any]
    members: frozenset[str] = frozenset()
    size: float = 0.0
    """How big the event is (members, boosters, count): an update is sent when it grows."""


@dataclass
class Notification:
    event: str  # "new" or "update"
    alert: dict[str, Any]


class AlertSink(Protocol):
    def send(self, note: Notification) -> None: ...
    def close(self, timeout: float = 10.0) -> None: ...


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


def _payload(note: Notification) -> dict[str, Any]:
    a = dict(note.alert)
    for k in ("first_at", "last_at", "window_since", "window_until"):
        if isinstance(a.get(k), datetime):
            a[k] = a[k].isoformat()
    if isinstance(a.get("detail"), str):
        a["detail"] = orjson.loads(a["detail"])
    return {"event": note.event, **a}


class StreamSink:
    """One JSON object per line on a text stream (stdout by default)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, note: Notification) -> None:
        out = self.stream or sys.stdout
        out.write(_json(_payload(note)) + "\n")
        out.flush()

    def close(self, timeout: float = 10.0) -> None:
        return None


class JsonlSink:
    """Appends one JSON object per line to a file (flushed per alert)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f = self.path.open("a", encoding="utf-8")

    def send(self, note: Notification) -> None:
        self._f.write(_json(_payload(note)) + "\n")
        self._f.flush()

    def close(self, timeout: float = 10.0) -> None:
        self._f.close()


class WebhookSink:
    """HTTP POST of each notification as JSON, with retries and exponential backoff.

    A 2xx answer is a delivery. Connection errors, timeouts, 408, 429 and 5xx are retried
    (``retries`` times, waiting ``backoff * 2**attempt`` s, at most ``max_backoff``); other
    4xx answers are not. Each POST carries ``Idempotency-Key: <alert_id>:<updates>`` so a
    receiver can drop a delivery it already has (after a timeout that hid a success).
    """

    def __init__(
        self,
        url: str,
        *,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise MissingDependencyError("httpx", "monitor") from exc
        if not url.startswith(("http://", "https://")):
            raise ConfigError("webhook", "monitor", "an http:// or https:// URL", url)
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._client = httpx.Client(timeout=timeout, headers=headers or {})
        self._q: queue.Queue[Notification | None] = queue.Queue()
        self.delivered = 0
        self.failed = 0
        self.attempts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fimiscope-webhook", daemon=True)
        self._thread.start()

    def send(self, note: Notification) -> None:
        self._q.put(note)

    def _run(self) -> None:
        while (note := self._q.get()) is not None:
            self._deliver(note)

    def _deliver(self, note: Notification) -> bool:
        import httpx

        body = _json(_payload(note)).encode()
        key = f"{note.alert['alert_id']}:{note.alert['updates']}"
        headers = {"content-type": "application/json", "idempotency-key": key}
        for attempt in range(self.retries + 1):
            self.attempts += 1
            try:
                r = self._client.post(self.url, content=body, headers=headers)
                if 200 <= r.status_code < 300:
                    self.delivered += 1
                    return True
                if r.status_code < 500 and r.status_code not in (408, 429):
                    break
            except httpx.HTTPError:
                pass
            if attempt < self.retries:
                wait = min(self.max_backoff, self.backoff * 2**attempt)
                if self._stopping.wait(wait) and attempt >= 1:
                    break  # shutting down: do not hold the exit for long backoffs
        self.failed += 1
        print(f"fimiscope: monitor: webhook delivery of {key} failed", file=sys.stderr)
        return False

    def close(self, timeout: float = 10.0) -> None:
        self._q.put(None)
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join(2)
        self._client.close()


class CallbackSink:
    """Calls a function with each notification's JSON-ready dict (for embedding)."""

    def __init__(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self.fn = fn

    def send(self, note: Notification) -> None:
        self.fn(_payload(note))

    def close(self, timeout: float = 10.0) -> None:
        return None


@dataclass
class AlertBook:
    """Deduplicates findings against the ``alerts`` table and notifies the sinks."""

    store: Store
    run_id: str
    sinks: Sequence[AlertSink] = ()
    group_jaccard: float = 0.3
    group_containment: float = 0.5
    sent: int = 0
    _groups: list[tuple[str, set[str], str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Known groups (from earlier sessions too): their member sets, for matching.
        for alert_id, detail, platform in self.store.sql(
            "SELECT alert_id, detail, platform FROM alerts WHERE kind = 'new_group'"
        ):
            members = set(orjson.loads(detail).get("members", [])) if detail else set()
            self._groups.append((alert_id, members, platform))

    def _match_group(self, f: Finding) -> tuple[str, set[str]] | None:
        best: tuple[float, str, set[str]] | None = None
        for alert_id, members, platform in self._groups:
            if platform != f.platform or not members:
                continue
            inter = len(members & f.members)
            if not inter:
                continue
            jac = inter / len(members | f.members)
            contained = inter / len(f.members)
            if jac >= self.group_jaccard or contained >= self.group_containment:
                score = max(jac, contained)
                if best is None or score > best[0]:
                    best = (score, alert_id, members)
        return None if best is None else (best[1], best[2])

    def record(
        self,
        findings: Sequence[Finding],
        *,
        since: datetime,
        until: datetime,
        detect_run: str | None,
    ) -> list[Notification]:
        """Store new alerts and updates; notify the sinks; return the notifications."""
        notes: list[Notification] = []
        now = datetime.now(UTC)
        con = self.store.con
        for f in findings:
            if f.kind not in ALERT_KINDS:
                raise ConfigError("kind", "Finding", f"one of {list(ALERT_KINDS)}", f.kind)
            if f.kind == "new_group":
                match = self._match_group(f)
                if match is None:
                    key = f"{f.platform}:" + ",".join(sorted(f.members))
                    existing = None
                else:
                    alert_id, members = match
                    existing = alert_id
            else:
                key = f"{f.kind}:{f.platform}:{f.key}"
                alert_id = _alert_id(f.kind, key)
                row = first_row(
                    con.execute("SELECT alert_id FROM alerts WHERE alert_id = ?", [alert_id])
                )
                existing = row[0] if row else None
            if existing is None:
                alert_id = _alert_id(f.kind, key)
                detail = {**f.detail, "size": f.size}
                if f.kind == "new_group":
                    detail["members"] = sorted(f.members)
                    self._groups.append((alert_id, set(f.members), f.platform))
                con.execute(
                    f"INSERT INTO alerts ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [
                        alert_id,
                        key,
                        f.kind,
                        f.severity,
                        f.title,
                        now,
                        now,
                        0,
                        _json(detail),
                        self.run_id,
                        f.platform,
                        since,
                        until,
                        detect_run,
                    ],
                )
                notes.append(Notification("new", self._row(alert_id)))
                continue
            cur = first_row(con.execute("SELECT detail FROM alerts WHERE alert_id = ?", [existing]))
            old = orjson.loads(cur[0]) if cur and cur[0] else {}
            if f.kind == "new_group":
                members = next(m for a, m, _ in self._groups if a == existing)
                grown = f.members - members
                if not grown:
                    continue
                members |= f.members
                detail = {
                    **old,
                    **f.detail,
                    "members": sorted(members),
                    "size": len(members),
                    "new_members": sorted(grown),
                }
                kind_sent = "group_grew"
            else:
                if f.size <= float(old.get("size", 0)):
                    continue
                detail = {**old, **f.detail, "size": f.size}
                kind_sent = f.kind
            con.execute(
                "UPDATE alerts SET updates = updates + 1, last_at = ?, detail = ?, title = ?, "
                "window_until = ?, detect_run = ?, severity = ? WHERE alert_id = ?",
                [
                    now,
                    _json(detail),
                    f.title
                    if f.kind != "new_group"
                    else _group_title(f.platform, len(detail["members"]), detail.get("traces", [])),
                    until,
                    detect_run,
                    f.severity,
                    existing,
                ],
            )
            row = self._row(existing)
            row["notified_kind"] = kind_sent
            notes.append(Notification("update", row))
        for note in notes:
            note.alert.setdefault("notified_kind", note.alert["kind"])
            self.sent += 1
            for sink in self.sinks:
                sink.send(note)
        return notes

    def _row(self, alert_id: str) -> dict[str, Any]:
        cur = self.store.con.execute("SELECT * FROM alerts WHERE alert_id = ?", [alert_id])
        row = first_row(cur)
        assert row is not None
        names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True))


def _alert_id(kind: str, key: str) -> str:
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _group_title(platform: str | None, size: int, traces: Sequence[str]) -> str:
    via = f" ({', '.join(traces)})" if traces else ""
    return f"coordinated group of {size} {platform} accounts{via}"


def list_alerts(
    store: Store, *, limit: int = 50, offset: int = 0, kind: str | None = None
) -> list[dict[str, Any]]:
    """Alerts, most recently updated first, as dicts (``detail`` parsed from JSON).

    Examples
    --------
    >>> from fimiscope.store import Store
    >>> with Store(":memory:") as s:
    ...     list_alerts(s)
    []
    """
    if kind is not None and kind not in ALERT_KINDS:
        raise ConfigError("kind", "list_alerts", f"one of {list(ALERT_KINDS)}", kind)
    if not (isinstance(limit, int) and limit >= 0):
        raise ConfigError("limit", "list_alerts", "an integer >= 0", limit)
    if not (isinstance(offset, int) and offset >= 0):
        raise ConfigError("offset", "list_alerts", "an integer >= 0", offset)
    cur = store.con.execute(
        "SELECT * FROM alerts WHERE (? IS NULL OR kind = ?) "
        "ORDER BY last_at DESC, alert_id LIMIT ? OFFSET ?",
        [kind, kind, limit, offset],
    )
    rows = cur.fetchall()
    names = [d[0] for d in cur.description]
    out = []
    for r in rows:
        d = dict(zip(names, r, strict=True))
        d["detail"] = orjson.loads(d["detail"]) if d["detail"] else {}
        out.append(d)
    return out
