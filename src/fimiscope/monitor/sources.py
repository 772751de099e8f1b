"""Live sources: a receiver thread per source fills a bounded queue that the writer drains.

Every source follows the same life cycle (:class:`Source`): ``start(cursor)`` with the cursor
the store holds, ``take(...)`` batches of :class:`~fimiscope.monitor.writer.Frame`, the
``cursor(frames)`` to store with them, then ``acknowledge(frames)`` only after the batch is
stored. The queue between receiver and writer is bounded (:class:`FrameQueue`): when the
writer falls behind, the receiver waits, which pushes back on the network (TCP for websocket,
unfetched messages for Kafka and NATS).

Clients are optional dependencies (the ``monitor`` extra), imported when a source starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from fimiscope.errors import ConfigError, MissingDependencyError
from fimiscope.monitor.writer import Frame

_TIME_US = b'"time_us":'


def time_us_of(raw: bytes) -> int | None:
    """The top-level ``time_us`` of a Jetstream frame, read without parsing the JSON.

    A JSON string cannot contain an unescaped ``"``, so the key can only be a real key.

    >>> time_us_of(b'{"did":"did:plc:a","time_us":1725911162329308,"kind":"commit"}')
    1725911162329308
    >>> time_us_of(b'not json') is None
    True
    """
    i = raw.find(_TIME_US)
    if i < 0:
        return None
    i += len(_TIME_US)
    j = i
    n = len(raw)
    while j < n and raw[j] in b" \t":
        j += 1
    k = j
    while k < n and 48 <= raw[k] <= 57:
        k += 1
    return int(raw[j:k]) if k > j else None


class FrameQueue:
    """A bounded FIFO of frames between one receiver and one writer (counted in frames)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[Frame] = deque()
        self._cond = threading.Condition()
        self.received = 0

    def __len__(self) -> int:
        return len(self._items)

    def put_many(
        self, frames: Sequence[Frame], stop: threading.Event | None = None, force: bool = False
    ) -> bool:
        """Append ``frames``, waiting while the queue is full (unless ``force``: at shutdown);
        False if ``stop`` was set meanwhile."""
        with self._cond:
            while not force and len(self._items) >= self.capacity:
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(0.1)
            self._items.extend(frames)
            self.received += len(frames)
            self._cond.notify_all()
        return True

    def full(self) -> bool:
        return len(self._items) >= self.capacity

    def take(self, max_frames: int, timeout: float) -> list[Frame]:
        """Up to ``max_frames`` frames; waits up to ``timeout`` s for the first one."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            n = min(max_frames, len(self._items))
            out = [self._items.popleft() for _ in range(n)]
            if out:
                self._cond.notify_all()
            return out

    def oldest_age(self) -> float:
        items = self._items
        try:
            return time.monotonic() - items[0].received if items else 0.0
        except IndexError:
            return 0.0


class Source(Protocol):
    """What the monitor needs of a live source."""

    key: str
    """The cursor's key in ``monitor_cursors``."""
    queue: FrameQueue
    error: BaseException | None
    """A fatal error of the receiver (the monitor stops and reports it)."""

    def start(self, cursor: str | None) -> None: ...
    def cursor(self, frames: Sequence[Frame]) -> str | None: ...
    def acknowledge(self, frames: Sequence[Frame]) -> None: ...
    def stop(self) -> None: ...
    @property
    def exhausted(self) -> bool: ...


class _Threaded:
    """A receiver thread and the bounded queue it fills."""

    key = ""

    def __init__(self, capacity: int) -> None:
        self.queue = FrameQueue(capacity)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.reconnects = 0

    def _spawn(self, target: Any) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported to the monitor, which stops
                self.error = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, name=f"fimiscope-{self.key}", daemon=True)
        self._thread.start()

    @property
    def exhausted(self) -> bool:
        """The receiver ended (a finite source ran out, or it failed) and nothing is queued."""
        return self._done.is_set() and not len(self.queue)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def cursor(self, frames: Sequence[Frame]) -> str | None:
        return None

    def acknowledge(self, frames: Sequence[Frame]) -> None:
        return None


def _backoff(attempt: int, base: float = 0.2, cap: float = 10.0) -> float:
    return min(cap, base * (2 ** min(attempt, 16)))


# -- Bluesky Jetstream over websocket ---------------------------------------------------------
class JetstreamSource(_Threaded):
    """Bluesky Jetstream (``wss://jetstream2.us-east.bsky.network/subscribe``).

    Reconnects with backoff after any drop, asking for ``cursor`` = the newest ``time_us``
    received, so nothing is lost; events of that very microsecond that come again are dropped
    (byte-identical frames), so nothing is doubled. At start the cursor is the store's.

    Parameters
    ----------
    url
        The ``/subscribe`` endpoint.
    collections
        ``wantedCollections`` (e.g. ``app.bsky.feed.post``); empty: everything.
    capacity
        Bound of the queue, in frames.
    max_reconnects
        Consecutive failed connection attempts before giving up (None: never give up).
    """

    def __init__(
        self,
        url: str,
        *,
        collections: Sequence[str] = (),
        capacity: int = 100_000,
        max_reconnects: int | None = None,
    ) -> None:
        super().__init__(capacity)
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise ConfigError("url", "JetstreamSource", "a ws:// or wss:// URL", url)
        self.url = url
        self.collections = tuple(collections)
        self.max_reconnects = max_reconnects
        self.key = f"jetstream:{urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))}"
        self.last_us: int | None = None
        self._at_last: set[bytes] = set()

    def subscribe_url(self) -> str:
        parts = urlsplit(self.url)
        query = [
            (k, v) for k, v in _parse_qsl(parts.query) if k not in ("cursor", "wantedCollections")
        ]
        query += [("wantedCollections", c) for c in self.collections]
        if self.last_us is not None:
            query.append(("cursor", str(self.last_us)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def start(self, cursor: str | None) -> None:
        try:
            import websockets  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("websockets", "monitor") from exc
        if cursor is not None:
            self.last_us = int(cursor)
        self._spawn(lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        import websockets

        failures = 0
        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    self.subscribe_url(),
                    max_size=2**22,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=60,
                ) as ws:
                    failures = 0
                    await self._read(ws)
                    if self._stop.is_set():
                        return
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
                pass
            if self._stop.is_set():
                return
            failures += 1
            self.reconnects += 1
            if self.max_reconnects is not None and failures > self.max_reconnects:
                raise ConnectionError(f"{self.key}: gave up after {failures - 1} reconnects")
            await asyncio.sleep(_backoff(failures - 1, 0.05))

    async def _read(self, ws: Any) -> None:
        # One plain `recv` per frame (no timeout wrapper: that costs a task and a timer per
        # frame); a flusher task hands a partial chunk over when frames stop coming.
        self._chunk: list[Frame] = []
        self._put_lock = asyncio.Lock()  # FIFO: chunks reach the queue in arrival order
        self._reading = True
        flusher = asyncio.create_task(self._flush_idle(ws))
        recv = ws.recv
        last_us = self.last_us
        at_last = self._at_last
        monotonic = time.monotonic
        try:
            while not self._stop.is_set():
                raw = await recv(decode=False)
                if type(raw) is not bytes:
                    raw = bytes(raw)
                us = time_us_of(raw)
                if us is not None:
                    if last_us is not None and us <= last_us:
                        if us < last_us or raw in at_last:
                            continue  # already received before a reconnect
                        at_last.add(raw)
                    else:
                        self.last_us = last_us = us
                        self._at_last = at_last = {raw}
                chunk = self._chunk
                chunk.append(Frame(raw, None, monotonic()))
                if len(chunk) >= 512:
                    self._chunk = []
                    await self._put(chunk)
        finally:
            # Not cancelled: the flusher may hold a chunk on its way to the queue.
            self._reading = False
            await flusher
            if self._chunk:
                chunk, self._chunk = self._chunk, []
                await self._put(chunk)

    async def _flush_idle(self, ws: Any) -> None:
        while self._reading and not self._stop.is_set():
            await asyncio.sleep(0.02)
            if self._chunk and time.monotonic() - self._chunk[0].received >= 0.02:
                chunk, self._chunk = self._chunk, []
                await self._put(chunk)
        if self._stop.is_set():
            # `recv` may be waiting for a frame that never comes: end the connection.
            with contextlib.suppress(Exception):
                await ws.close()

    async def _put(self, chunk: list[Frame]) -> None:
        async with self._put_lock:
            q = self.queue
            while q.full():
                if self._stop.is_set():
                    break
                await asyncio.sleep(0.005)  # backpressure: stop reading the socket
            # On shutdown the chunk goes in even over capacity: what was received is stored.
            q.put_many(chunk, force=self._stop.is_set())


def _parse_qsl(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


# -- a growing JSON Lines file ------------------------------------------------------------------
class FileTailSource(_Threaded):
    """A JSON Lines file that grows (``tail -F``): complete lines only, from a byte offset.

    The cursor is the byte offset after the last stored line. With ``follow=False`` the source
    ends at the end of the file (a replay).
    """

    def __init__(
        self, path: str | Path, *, capacity: int = 100_000, follow: bool = True, poll: float = 0.2
    ) -> None:
        super().__init__(capacity)
        self.path = Path(path).resolve()
        self.follow = follow
        self.poll = poll
        self.key = f"file:{self.path}"
        self._offset = 0

    def start(self, cursor: str | None) -> None:
        self._offset = int(cursor) if cursor else 0
        self._spawn(self._run)

    def _run(self) -> None:
        offset = self._offset
        pending = b""
        while not self._stop.is_set():
            try:
                with self.path.open("rb") as f:
                    if f.seek(0, 2) < offset:
                        raise ConnectionError(
                            f"{self.key}: the file is shorter than the stored cursor ({offset}); "
                            "it was truncated or replaced"
                        )
                    f.seek(offset + len(pending))
                    data = f.read(1 << 22)
            except FileNotFoundError:
                data = b""
            if not data:
                if not self.follow:
                    if pending:
                        # A last line without newline at the end of a finished file.
                        self.queue.put_many([Frame(pending, offset, time.monotonic())], self._stop)
                    return
                time.sleep(self.poll)
                continue
            buf = pending + data
            frames: list[Frame] = []
            start = 0
            now = time.monotonic()
            while (end := buf.find(b"\n", start)) >= 0:
                frames.append(Frame(buf[start : end + 1], offset + start, now))
                start = end + 1
            pending = buf[start:]
            offset += start
            if frames and not self.queue.put_many(frames, self._stop):
                return

    def cursor(self, frames: Sequence[Frame]) -> str | None:
        last = frames[-1] if frames else None
        if last is None or last.position is None:
            return None
        return str(last.position + len(last.raw))


# -- Apache Kafka -------------------------------------------------------------------------------
class KafkaSource(_Threaded):
    """Kafka topics through a consumer group (confluent-kafka / librdkafka).

    Auto-commit is off: offsets are committed from the receiver thread only after the writer
    has stored the messages (:meth:`acknowledge`). The store also keeps the offsets; when a
    partition is assigned, consumption starts after the store's offset if that is further
    than the group's (the store is the source of truth after a crash between the two).
    """

    def __init__(
        self,
        topics: Sequence[str],
        *,
        config: dict[str, Any],
        capacity: int = 100_000,
        batch: int = 1000,
    ) -> None:
        super().__init__(capacity)
        if not topics:
            raise ConfigError("topics", "KafkaSource", "at least one topic", topics)
        if "group.id" not in config or "bootstrap.servers" not in config:
            raise ConfigError(
                "config",
                "KafkaSource",
                "a dict with bootstrap.servers and group.id",
                sorted(config),
            )
        self.topics = tuple(topics)
        self.config = {**config, "enable.auto.commit": False, "enable.auto.offset.store": False}
        self.config.setdefault("auto.offset.reset", "earliest")
        self.batch = batch
        self.key = f"kafka:{config['group.id']}:{','.join(self.topics)}"
        self._stored: dict[str, int] = {}
        self._acks: deque[dict[str, int]] = deque()

    def start(self, cursor: str | None) -> None:
        try:
            import confluent_kafka  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("confluent-kafka", "monitor") from exc
        self._stored = {str(k): int(v) for k, v in orjson.loads(cursor).items()} if cursor else {}
        self._spawn(self._run)

    def _run(self) -> None:
        from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

        consumer = Consumer(self.config)

        def on_assign(c: Any, partitions: list[Any]) -> None:
            for tp in partitions:
                stored = self._stored.get(f"{tp.topic}:{tp.partition}")
                if stored is not None:
                    tp.offset = stored + 1
            c.assign(partitions)

        consumer.subscribe(list(self.topics), on_assign=on_assign)
        try:
            while not self._stop.is_set():
                self._commit(consumer, TopicPartition)
                if self.queue.full():
                    time.sleep(0.01)
                    continue
                msgs = consumer.consume(self.batch, 0.1)
                frames = []
                now = time.monotonic()
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        if err.fatal():
                            raise KafkaException(err)
                        continue
                    frames.append(
                        Frame(m.value() or b"", m.offset(), now, f"{m.topic()}:{m.partition()}")
                    )
                if frames:
                    self.queue.put_many(frames, self._stop)
            self._commit(consumer, TopicPartition)
        finally:
            consumer.close()

    def _commit(self, consumer: Any, tp_class: Any) -> None:
        while self._acks:
            offsets = self._acks.popleft()
            tps = []
            for key, off in offsets.items():
                topic, part = key.rsplit(":", 1)
                tps.append(tp_class(topic, int(part), off + 1))
            consumer.commit(offsets=tps, asynchronous=False)

    def cursor(self, frames: Sequence[Frame]) -> str | None:
        for f in frames:
            if (
                f.partition is not None
                and f.position is not None
                and f.position > self._stored.get(f.partition, -1)
            ):
                self._stored[f.partition] = f.position
        return orjson.dumps(self._stored, option=orjson.OPT_SORT_KEYS).decode()

    def acknowledge(self, frames: Sequence[Frame]) -> None:
        last: dict[str, int] = {}
        for f in frames:
            if f.partition is not None and f.position is not None:
                last[f.partition] = max(last.get(f.partition, -1), f.position)
        if last:
            self._acks.append(last)


# -- NATS JetStream -----------------------------------------------------------------------------
class NatsSource(_Threaded):
    """A NATS JetStream stream through a durable pull consumer (nats-py).

    Messages are acknowledged only after the writer stored them. A message redelivered after
    a server restart or a lost ack whose stream sequence is at or below the stored cursor was
    already stored: it is acknowledged and not stored again.
    """

    def __init__(
        self,
        servers: Sequence[str] | str,
        *,
        stream: str,
        subject: str,
        durable: str = "fimiscope-monitor",
        capacity: int = 100_000,
        batch: int = 500,
        ack_wait: float = 30.0,
    ) -> None:
        super().__init__(capacity)
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.batch = batch
        self.ack_wait = ack_wait
        self.key = f"nats:{stream}:{durable}"
        self._stored_seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._msgs: dict[int, Any] = {}

    def start(self, cursor: str | None) -> None:
        try:
            import nats  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError("nats-py", "monitor") from exc
        self._stored_seq = int(cursor) if cursor else 0
        self._spawn(lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        self._loop = asyncio.get_running_loop()

        async def _quiet(exc: Exception) -> None:
            return None  # reconnection is automatic; nats-py would print every failed attempt

        nc = await nats.connect(
            error_cb=_quiet,
            servers=self.servers,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=5,
        )
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe(
                self.subject,
                durable=self.durable,
                stream=self.stream,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait,
                    max_ack_pending=max(self.batch * 4, 1000),
                ),
            )
            while not self._stop.is_set():
                if self.queue.full():
                    await asyncio.sleep(0.01)
                    continue
                try:
                    msgs = await sub.fetch(self.batch, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (
                    nats.errors.ConnectionClosedError,
                    nats.errors.NoRespondersError,
                    nats.js.errors.ServiceUnavailableError,
                    nats.js.errors.APIError,
                    nats.errors.StaleConnectionError,
                    nats.errors.UnexpectedEOF,
                    OSError,
                ):
                    await asyncio.sleep(0.2)  # the client reconnects by itself
                    continue
                frames = []
                now = time.monotonic()
                for m in msgs:
                    seq = m.metadata.sequence.stream
                    if seq <= self._stored_seq:
                        with contextlib.suppress(Exception):
                            await m.ack()  # a redelivery of what is already stored
                        continue
                    self._msgs[seq] = m
                    frames.append(Frame(m.data, seq, now))
                if frames:
                    await asyncio.to_thread(self.queue.put_many, frames, self._stop)
        finally:
            with contextlib.suppress(Exception):
                await nc.drain()

    def cursor(self, frames: Sequence[Frame]) -> str | None:
        seqs = [f.position for f in frames if f.position is not None]
        if seqs:
            self._stored_seq = max(self._stored_seq, max(seqs))
        return str(self._stored_seq)

    def acknowledge(self, frames: Sequence[Frame]) -> None:
        msgs = [
            self._msgs.pop(f.position)
            for f in frames
            if f.position is not None and f.position in self._msgs
        ]
        if not msgs or self._loop is None or self._loop.is_closed():
            return

        async def ack_all() -> None:
            for m in msgs:
                # A lost ack only means a redelivery, which the cursor check absorbs.
                with contextlib.suppress(Exception):
                    await m.ack()

        fut = asyncio.run_coroutine_threadsafe(ack_all(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(timeout=10)
