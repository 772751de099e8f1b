"""The monitor: a source's receiver thread, the writer (this thread) and a detection thread.

::

    receiver ──frames──► bounded queue ──► stager thread: parse + stage batch k
                                              ▼ (in order)
                                           writer: merge batch k - 1, one transaction per
                                              │ batch (events + cursor), then acknowledge the
                                              │ source (Kafka commit, NATS ack); stream clock
                                              │ = newest time_us
                                              ▼
                            detection thread: due window? detect → incidents, boosted posts,
                            narrative spikes → AlertBook (dedup, store) → sinks

The writer never waits for detection: when detection is slower than the stream, windows are
skipped or deferred (see :mod:`fimiscope.monitor.windows`) and the lag is reported. SIGINT and
SIGTERM stop the receiver, store everything received, acknowledge it, and end the session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, FimiscopeError
from fimiscope.monitor.alerts import AlertBook, AlertSink
from fimiscope.monitor.sources import Source
from fimiscope.monitor.windows import Scheduler, WindowConfig, _epoch, run_window
from fimiscope.monitor.writer import BatchInfo, BatchWriter, Prepared
from fimiscope.store import Store


@dataclass
class MonitorStats:
    """What a session did (also the last ``monitor_status`` row)."""

    run_id: str
    received: int = 0
    stored: int = 0
    rejected: int = 0
    batches: int = 0
    windows: int = 0
    windows_skipped: int = 0
    alerts: int = 0
    stream_us: int | None = None
    seconds: float = 0.0
    max_queue: int = 0
    max_ingest_lag_s: float = 0.0
    max_detect_lag_s: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0
    first_batch_at: float | None = None
    """Seconds from session start to the first and the last stored batch."""
    last_batch_at: float | None = None
    first_alert_at: float | None = None
    """Seconds from session start to the first alert notification."""
    errors: list[str] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    """Writer stages (``parse``, ``stage``, ``merge``): wall and thread-CPU seconds, summed."""

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["stream_time"] = _epoch(self.stream_us).isoformat() if self.stream_us else None
        return d


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class Monitor:
    """Consume ``source`` into ``store`` and run windowed detection with alerts.

    Parameters
    ----------
    store
        An open, writable store in a file (detection uses a second connection to it).
    source
        A :class:`~fimiscope.monitor.sources.Source`.
    windows
        Windowed detection parameters; None turns detection off (ingest only).
    sinks
        Where alert notifications go (stored alerts are kept whatever the sinks).
    batch_size, batch_seconds
        A batch is stored when it has ``batch_size`` frames or after ``batch_seconds``.
    status_seconds
        How often a ``monitor_status`` row and a metrics line on stderr are written.
    max_events, duration, idle_seconds
        Stop after that many stored frames, that many seconds, or that long without frames
        (None: no such limit). A finite source (a file without follow) also ends the session.
    final_window
        On shutdown, examine the newest window once more if the stream moved since the last.
    detect_share
        Largest share of wall time the detection thread may be busy (in ``(0, 1]``): after a
        window that took ``t`` seconds it rests ``t * (1 - share) / share`` seconds, so that
        detection behind a fast stream does not starve the writer of CPU (windows that fall
        due meanwhile are skipped or deferred as ``catch_up`` says).
    checkpoint_threshold
        DuckDB's ``checkpoint_threshold`` during the session (restored after): with the
        default 16 MB DuckDB rewrites the database every few batches, which halved the rate
        at which batches could be merged. A bigger write-ahead log only means a longer replay
        when the store is opened after a crash. None keeps the store's setting.
    log
        Where metrics lines go (default stderr); None to silence them.
    """

    def __init__(
        self,
        store: Store,
        source: Source,
        *,
        windows: WindowConfig | None = None,
        sinks: Sequence[AlertSink] = (),
        batch_size: int = 20_000,
        batch_seconds: float = 0.5,
        status_seconds: float = 5.0,
        max_events: int | None = None,
        duration: float | None = None,
        idle_seconds: float | None = None,
        final_window: bool = True,
        detect_share: float = 1.0,
        checkpoint_threshold: str | None = "1GB",
        format: str = "jetstream",
        log: Callable[[str], None] | bool | None = True,
    ) -> None:
        self.store = store
        self.source = source
        self.windows = windows
        self.sinks = list(sinks)
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.status_seconds = status_seconds
        self.max_events = max_events
        self.duration = duration
        self.idle_seconds = idle_seconds
        self.final_window = final_window
        self.detect_share = detect_share
        self.checkpoint_threshold = checkpoint_threshold
        self.format = format
        if log is True:
            self._log: Callable[[str], None] | None = lambda s: print(
                s, file=sys.stderr, flush=True
            )
        else:
            self._log = log or None
        self._stop = threading.Event()
        self._inflight = 0
        self._started = time.monotonic()
        self.stats: MonitorStats | None = None

    def stop(self) -> None:
        """Ask the session to end (thread-safe; what was received is still stored)."""
        self._stop.set()

    # -- session ---------------------------------------------------------------------------------
    def run(self) -> MonitorStats:
        """Run until stopped, a limit is reached or the source ends; return the statistics."""
        if self.store.path == ":memory:" and self.windows is not None:
            raise ConfigError(
                "store",
                "monitor",
                "a store file (detection opens a second connection to it)",
                self.store.path,
            )
        if self.batch_size < 1:
            raise ConfigError("batch_size", "monitor", "an integer >= 1", self.batch_size)
        if not (isinstance(self.detect_share, int | float) and 0 < self.detect_share <= 1):
            raise ConfigError("detect_share", "monitor", "a share in (0, 1]", self.detect_share)
        if self.windows is not None:
            self.windows.validate()
        params = {
            "source": self.source.key,
            "windows": self.windows.as_dict() if self.windows else None,
            "batch_size": self.batch_size,
            "batch_seconds": self.batch_seconds,
            "detect_share": self.detect_share,
            "format": self.format,
        }
        det_store = _second_connection(self.store) if self.windows is not None else None
        run_id = self.store.start_run("monitor", params)
        stats = self.stats = MonitorStats(run_id)
        writer = BatchWriter(self.store, self.source.key, run_id, format=self.format)
        restore = self._install_signals()
        restore_checkpoint = self._set_checkpoint_threshold()
        detector = None
        started = self._started = time.monotonic()
        status = "ok"
        message = ""
        try:
            if det_store is not None and self.windows is not None:
                detector = _Detector(
                    det_store,
                    self.windows,
                    AlertBook(det_store, run_id, self.sinks),
                    stats,
                    started,
                    self._log,
                    self.detect_share,
                )
            self.source.start(writer.cursor())
            if detector is not None:
                detector.start()
            self._loop(writer, stats, started, detector)
        except BaseException as exc:
            status, message = "failed", (str(exc).splitlines() or [type(exc).__name__])[0]
            raise
        finally:
            self.source.stop()
            with contextlib.suppress(BaseException):
                if status == "ok":
                    self._drain(writer, stats)
            if detector is not None:
                detector.finish(writer.stream_us, self.final_window and status == "ok")
            for sink in self.sinks:
                with contextlib.suppress(Exception):
                    sink.close()
            self._status(writer, stats, started, detector, force=True)
            restore()
            restore_checkpoint()
            if det_store is not None:
                det_store.close()
            if detector is not None and detector.error is not None and status == "ok":
                status, message = "failed", f"detection: {detector.error}"
            self.store.finish_run(
                run_id,
                status=status,
                message=message
                or (
                    f"{stats.stored} frames stored, {stats.rejected} rejected, "
                    f"{stats.windows} windows, {stats.alerts} alert notifications"
                ),
            )
        if detector is not None and detector.error is not None:
            raise detector.error
        return stats

    def _set_checkpoint_threshold(self) -> Callable[[], None]:
        if self.checkpoint_threshold is None:
            return lambda: None
        con = self.store.con
        row = first_row(con.execute("SELECT current_setting('checkpoint_threshold')"))
        con.execute("SET checkpoint_threshold = ?", [self.checkpoint_threshold])

        def restore() -> None:
            if row is not None:
                with contextlib.suppress(Exception):
                    con.execute("SET checkpoint_threshold = ?", [row[0]])

        return restore

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            self._stop.set()

        for s in old:
            signal.signal(s, handler)

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)

        return restore

    def _loop(
        self, writer: BatchWriter, stats: MonitorStats, started: float, detector: _Detector | None
    ) -> None:
        q = self.source.queue
        last_frame = time.monotonic()
        next_status = started + self.status_seconds
        # Two-stage pipeline: batch k is parsed and staged on the stager thread while batch
        # k - 1 merges here (DuckDB releases the GIL). Prepared and committed in order; a
        # batch is acknowledged only after its commit.
        stager = ThreadPoolExecutor(1, thread_name_prefix="fimiscope-stage")
        pending: tuple[Future[Prepared], list[Any]] | None = None
        self._inflight = 0
        clean = False
        try:
            while not self._stop.is_set():
                if self.source.error is not None:
                    raise self.source.error
                if detector is not None and detector.error is not None:
                    raise detector.error
                batch = self._collect(q)
                now = time.monotonic()
                if batch:
                    future = stager.submit(writer.prepare, batch)
                    self._inflight += len(batch)
                    previous, pending = pending, (future, batch)
                    if previous is not None:
                        self._commit(writer, *previous, stats)
                    last_frame = now
                else:
                    previous, pending = pending, None
                    if previous is not None:
                        self._commit(writer, *previous, stats)
                    if self.source.exhausted:
                        if self.source.error is not None:
                            raise self.source.error
                        break
                if now >= next_status:
                    self._status(writer, stats, started, detector)
                    next_status = now + self.status_seconds
                if self.max_events is not None and stats.stored + self._inflight >= self.max_events:
                    break
                if self.duration is not None and now - started >= self.duration:
                    break
                if self.idle_seconds is not None and now - last_frame >= self.idle_seconds:
                    break
            clean = True
        finally:
            if pending is not None:
                if clean:
                    previous, pending = pending, None
                    self._commit(writer, *previous, stats)
                else:
                    with contextlib.suppress(BaseException):
                        writer.discard(pending[0].result())
            stager.shutdown(wait=True)

    def _commit(
        self, writer: BatchWriter, future: Future[Prepared], batch: list[Any], stats: MonitorStats
    ) -> None:
        prepared = future.result()
        self._inflight -= len(batch)
        cursor = self.source.cursor(batch)
        info = writer.commit(prepared, cursor)
        self.source.acknowledge(batch)  # only now: the batch and its cursor are committed
        self._count(writer, info, stats)

    def _collect(self, q: Any) -> list[Any]:
        deadline = time.monotonic() + self.batch_seconds
        limit = self.batch_size
        if self.max_events is not None and self.stats is not None:
            limit = max(1, min(limit, self.max_events - self.stats.stored - self._inflight))
        batch = q.take(limit, self.batch_seconds)
        while batch and len(batch) < limit and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = q.take(limit - len(batch), min(left, 0.05))
            if not more and self.source.exhausted:
                break
            batch += more
        return batch

    def _store(self, writer: BatchWriter, batch: list[Any], stats: MonitorStats) -> None:
        cursor = self.source.cursor(batch)
        info = writer.store_batch(batch, cursor)
        self.source.acknowledge(batch)  # only now: the batch and its cursor are committed
        self._count(writer, info, stats)

    def _count(self, writer: BatchWriter, info: BatchInfo, stats: MonitorStats) -> None:
        stats.stored += info.frames
        stats.rejected += info.rejected
        stats.last_batch_at = round(time.monotonic() - self._started, 3)
        if stats.first_batch_at is None:
            stats.first_batch_at = stats.last_batch_at
        stats.batches += 1
        stats.stream_us = writer.stream_us

    def _drain(self, writer: BatchWriter, stats: MonitorStats) -> None:
        q = self.source.queue
        while batch := q.take(self.batch_size, 0):
            self._store(writer, batch, stats)

    def _status(
        self,
        writer: BatchWriter,
        stats: MonitorStats,
        started: float,
        detector: _Detector | None,
        force: bool = False,
    ) -> None:
        q = self.source.queue
        now = time.monotonic()
        elapsed = now - started
        prev = getattr(self, "_prev_status", (started, 0))
        rate = (stats.stored - prev[1]) / max(now - prev[0], 1e-9)
        self._prev_status = (now, stats.stored)
        stats.received = q.received
        stats.seconds = round(elapsed, 3)
        depth = len(q)
        lag = q.oldest_age()
        rss = _rss_mb()
        stats.cpu_s = round(_cpu_s(), 2)
        stats.stages = {
            k: {"wall_s": round(v[0], 2), "cpu_s": round(v[1], 2)}
            for k, v in writer.timings.items()
        }
        stats.max_queue = max(stats.max_queue, depth)
        stats.max_ingest_lag_s = max(stats.max_ingest_lag_s, lag)
        stats.peak_rss_mb = max(stats.peak_rss_mb, rss)
        dlag = detector.scheduler.lag_s(writer.stream_us) if detector else 0.0
        stats.max_detect_lag_s = max(stats.max_detect_lag_s, dlag)
        if detector is not None:
            stats.windows_skipped = int(detector.scheduler.skipped)
        stream = _epoch(writer.stream_us) if writer.stream_us else None
        with contextlib.suppress(FimiscopeError, Exception):
            self.store.con.execute(
                "INSERT INTO monitor_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                [
                    stats.run_id,
                    datetime.now(UTC),
                    self.source.key,
                    stats.received,
                    stats.stored,
                    stats.rejected,
                    rate,
                    depth,
                    q.capacity,
                    lag,
                    stream,
                    dlag,
                    stats.windows,
                    stats.windows_skipped,
                    stats.alerts,
                    rss,
                    stats.cpu_s,
                ],
            )
        if self._log is not None:
            self._log(
                f"fimiscope: monitor: t={elapsed:.0f}s received={stats.received} "
                f"stored={stats.stored} rejected={stats.rejected} rate={rate:.0f}/s "
                f"queue={depth}/{q.capacity} ingest_lag={lag:.2f}s "
                f"stream={stream.isoformat() if stream else '-'} detect_lag={dlag:.0f}s "
                f"windows={stats.windows} skipped={stats.windows_skipped} "
                f"alerts={stats.alerts} rss={rss:.0f}MB cpu={stats.cpu_s:.1f}s"
                + (" (final)" if force else "")
            )


def _second_connection(store: Store) -> Store:
    """A :class:`Store` on a second connection to the same database (own transactions)."""
    twin = Store.__new__(Store)
    twin.path = store.path
    twin.con = store.con.cursor()
    twin.con.execute("SET TimeZone = 'UTC'")
    return twin


class _Detector:
    """The detection thread: runs due windows on its own connection and records alerts."""

    def __init__(
        self,
        store: Store,
        config: WindowConfig,
        book: AlertBook,
        stats: MonitorStats,
        started: float,
        log: Callable[[str], None] | None,
        share: float = 1.0,
    ) -> None:
        self.store = store
        self.share = share
        self.config = config
        self.book = book
        self.stats = stats
        self.started = started
        self.log = log
        self.scheduler = Scheduler(config)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fimiscope-detect", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                if not self.step(self.stats.stream_us):
                    self._stop.wait(0.1)
                elif self.share < 1:
                    # Rest in proportion to the work done: detection keeps at most `share`
                    # of the wall clock, the writer the rest.
                    self._stop.wait((time.monotonic() - t0) * (1 - self.share) / self.share)
        except BaseException as exc:
            self.error = exc

    def step(self, stream_us: int | None) -> bool:
        due = self.scheduler.due(stream_us)
        if due is None:
            return False
        since, until = due
        result = run_window(self.store, self.config, since, until)
        notes = self.book.record(
            result.findings, since=since, until=until, detect_run=result.detect_run
        )
        self.stats.windows += 1
        if notes and self.stats.first_alert_at is None:
            self.stats.first_alert_at = round(time.monotonic() - self.started, 3)
        self.stats.alerts += len(notes)
        return True

    def finish(self, stream_us: int | None, final: bool) -> None:
        self._stop.set()
        self._thread.join()
        if final and self.error is None and self.config.catch_up == "cover":
            # "cover" promises every stretch of stream time: the windows still due are
            # examined before the session ends.
            try:
                while self.step(stream_us):
                    pass
            except FimiscopeError as exc:
                self.error = exc
        if (
            final
            and self.error is None
            and stream_us is not None
            and (self.scheduler.last_end_us is None or stream_us > self.scheduler.last_end_us)
        ):
            # The last stretch of the stream: examined even if less than `every` passed.
            self.scheduler.last_end_us = (
                None
                if self.scheduler.last_end_us is None
                else stream_us - int(self.config.every * 1e6)
            )
            try:
                self.step(stream_us)
            except FimiscopeError as exc:
                self.error = exc
