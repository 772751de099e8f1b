"""Store a batch of received frames in one transaction, with the source's cursor.

The frames go through the ingest machinery unchanged: the format's own parser (here the
Jetstream parser of :mod:`fimiscope.ingest.formats.jetstream`) writes into an ingest
:class:`~fimiscope.ingest.sink.Sink`, and the staged rows are merged by
:mod:`fimiscope.ingest.merge`, which de-duplicates against the store (a post, engagement or
account already stored is not stored again). Frames that do not parse go to ``rejects`` with
the frame's number in the session (``line``), its position in the source (``byte_offset``:
Kafka offset, NATS stream sequence, file byte offset) and the reason.

The cursor row (``monitor_cursors``) is written in the same transaction, so after a crash the
store's cursor is exactly as far as the stored events: the source is acknowledged only after
:meth:`BatchWriter.store` returns.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, StoreError
from fimiscope.ingest import merge as _merge
from fimiscope.ingest import registry
from fimiscope.ingest import staging as _staging
from fimiscope.ingest.sink import Sink
from fimiscope.store import Store

# Formats whose parser reads JSON Lines through `iter_json_lines` (so a frame is a line).
LINE_FORMATS = ("jetstream",)


@dataclass(frozen=True, slots=True)
class Frame:
    """One received message: its raw bytes, where it came from, and when it arrived."""

    raw: bytes
    position: int | None = None
    """Offset in the source (Kafka offset, NATS stream sequence, file byte offset), if any."""
    received: float = 0.0
    """``time.monotonic()`` at receipt (for the ingest lag)."""
    partition: str | None = None
    """Kafka ``topic:partition``."""


@dataclass(frozen=True)
class BatchInfo:
    frames: int
    posts: int
    engagements: int
    accounts: int
    rejected: int
    stream_us: int | None
    seconds: float


@dataclass
class Prepared:
    """A parsed and staged batch, not yet in the store."""

    frames: Sequence[Frame]
    stage: _staging.StageFiles
    sink: Sink
    started: float


class _Frames:
    """What a line-based format parser needs of a :class:`SourceFile`: numbered lines."""

    def __init__(self, frames: Sequence[Frame], first_number: int, path: str) -> None:
        self._frames = frames
        self._first = first_number
        self.path = Path(path)
        self.options: dict[str, Any] = {}

    def iter_lines(
        self, first_line: int = 1, first_offset: int = 0
    ) -> Iterator[tuple[int, int | None, bytes]]:
        for i, frame in enumerate(self._frames, self._first):
            if frame.raw.strip():
                yield i, frame.position, frame.raw


class BatchWriter:
    """Writes batches of frames of one source into ``store`` under a monitor session.

    Parameters
    ----------
    store
        The open, writable store.
    source_key
        The cursor's key in ``monitor_cursors``.
    run_id
        The monitor session (``runs.run_id``); one ``sources`` row is kept per session.
    format
        Format of the frames (a line-based registered format).
    """

    def __init__(
        self, store: Store, source_key: str, run_id: str, *, format: str = "jetstream"
    ) -> None:
        if format not in LINE_FORMATS:
            raise ConfigError("format", "monitor", f"one of {list(LINE_FORMATS)}", format)
        self.store = store
        self.source_key = source_key
        self.run_id = run_id
        self.format = registry.get(format)
        self.frames = 0
        self._numbered = 0
        self.rejected = 0
        self.timings: dict[str, list[float]] = {}
        """Per stage (``parse``, ``stage``, ``merge``): [wall seconds, CPU seconds of the
        calling thread] (DuckDB's worker threads are not in the CPU figure)."""
        self.stream_us: int | None = None
        con = store.con
        row = first_row(con.execute("SELECT nextval('source_id_seq')"))
        assert row is not None
        self.source_id = int(row[0])
        sha = hashlib.sha256(f"stream:{source_key}:{run_id}".encode()).hexdigest()
        con.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, 0, NULL, ?, ?)",
            [self.source_id, source_key, sha, self.format.name, datetime.now(UTC), run_id],
        )

    def cursor(self) -> str | None:
        """The stored cursor of this source (from any earlier session), or None."""
        row = first_row(
            self.store.con.execute(
                "SELECT cursor FROM monitor_cursors WHERE source_key = ?", [self.source_key]
            )
        )
        return None if row is None else row[0]

    def store_batch(self, frames: Sequence[Frame], cursor: str | None) -> BatchInfo:
        """Store ``frames`` and set the cursor to ``cursor`` (None: the largest ``time_us``)."""
        return self.commit(self.prepare(frames), cursor)

    def prepare(self, frames: Sequence[Frame]) -> Prepared:
        """Parse and stage ``frames`` (outside any transaction; the store is not changed).

        Batches must be prepared and committed in the same order; the next batch may be
        prepared (on another thread) while the previous one commits."""
        t0, c0 = time.perf_counter(), time.thread_time()
        first = self._numbered + 1
        self._numbered += len(frames)
        stage = _staging.StageFiles(self.store.path)
        try:
            sink = Sink(stage.append, batch_size=1 << 30, con=self.store.con)
            self.format.parse(_Frames(frames, first, self.source_key), sink)
            t1, c1 = time.perf_counter(), time.thread_time()
            sink.flush()  # normalised columns, Parquet files
        except BaseException:
            stage.close()
            raise
        t2, c2 = time.perf_counter(), time.thread_time()
        self._time("parse", t1 - t0, c1 - c0)
        self._time("stage", t2 - t1, c2 - c1)
        return Prepared(frames, stage, sink, t0)

    def commit(self, prepared: Prepared, cursor: str | None) -> BatchInfo:
        """Merge a prepared batch and its cursor in one transaction (then acknowledge it)."""
        frames, sink = prepared.frames, prepared.sink
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            new_stream = self._write(prepared.stage, sink, frames, cursor)
        finally:
            prepared.stage.close()
        self._time("merge", time.perf_counter() - t0, time.thread_time() - c0)
        self.frames += len(frames)
        self.rejected += sink.rejected
        self.stream_us = new_stream
        return BatchInfo(
            len(frames),
            *self._counts,
            sink.rejected,
            new_stream,
            time.perf_counter() - prepared.started,
        )

    def discard(self, prepared: Prepared) -> None:
        """Drop a prepared batch that will not be committed (its frames stay unacknowledged)."""
        prepared.stage.close()

    def _time(self, stage: str, wall: float, cpu: float) -> None:
        t = self.timings.setdefault(stage, [0.0, 0.0])
        t[0] += wall
        t[1] += cpu

    def _write(
        self, stage: _staging.StageFiles, sink: Sink, frames: Sequence[Frame], cursor: str | None
    ) -> int | None:
        con = self.store.con
        try:
            with self.store.transaction():
                counts = _merge.merge(con, stage, self.source_id)
                now = datetime.now(UTC)
                _merge.insert_rejects(
                    con, stage, self.source_id, self.source_key, self.format.name, now
                )
                stream_us = int(sink.cursor) if sink.cursor is not None else None
                if stream_us is not None and (self.stream_us is None or stream_us > self.stream_us):
                    new_stream = stream_us
                else:
                    new_stream = self.stream_us
                if cursor is None:
                    cursor = None if new_stream is None else str(new_stream)
                con.execute(
                    "UPDATE sources SET records = records + ?, posts = posts + ?, "
                    "accounts = accounts + ?, engagements = engagements + ?, "
                    "rejected = rejected + ?, size_bytes = size_bytes + ?, "
                    "cursor = coalesce(?, cursor), ingested_at = ? WHERE source_id = ?",
                    [
                        len(frames),
                        counts["posts"],
                        counts["accounts"],
                        counts["engagements"],
                        sink.rejected,
                        sum(len(f.raw) for f in frames),
                        cursor,
                        now,
                        self.source_id,
                    ],
                )
                updated = first_row(
                    con.execute(
                        "UPDATE monitor_cursors SET cursor = coalesce(?, cursor), "
                        "events = events + ?, updated_at = ?, run_id = ? WHERE source_key = ? "
                        "RETURNING 1",
                        [cursor, len(frames), now, self.run_id, self.source_key],
                    )
                )
                if updated is None:
                    con.execute(
                        "INSERT INTO monitor_cursors VALUES (?, ?, ?, ?, ?)",
                        [self.source_key, cursor, len(frames), now, self.run_id],
                    )
        except duckdb.Error as exc:
            raise StoreError(
                f"{self.store.path}: the store refused a batch of "
                f"{len(frames)} frames ({str(exc).splitlines()[0]})"
            ) from exc
        self._counts = (counts["posts"], counts["engagements"], counts["accounts"])
        return new_stream
