"""A Jetstream replay server on 127.0.0.1, for tests, benchmarks and demonstrations.

It serves the events of a Jetstream JSON Lines file over websocket at ``/subscribe`` like the
real service: ``wantedCollections`` filters commits, ``cursor`` starts at the first event with
``time_us >= cursor``. It can pace the replay (events per second), drop every connection after
a number of events (to exercise reconnection), and slip garbage frames in.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fimiscope.monitor.sources import time_us_of


def _collection(raw: bytes) -> bytes | None:
    i = raw.find(b'"collection":"')
    if i < 0:
        return None
    i += 14
    return raw[i : raw.find(b'"', i)]


_CREATED = re.compile(rb'"createdAt":"([^"]{1,64})"')


def _shifted(raw: bytes, k: int, shift_us: int) -> bytes:
    """``raw`` as copy ``k`` of a looped replay: later by ``shift_us``, with renamed DIDs."""
    us = time_us_of(raw)
    if us is not None:
        raw = raw.replace(b'"time_us":%d' % us, b'"time_us":%d' % (us + shift_us), 1)
    shift = timedelta(microseconds=shift_us)

    def created(m: re.Match[bytes]) -> bytes:
        try:
            dt = datetime.fromisoformat(m.group(1).decode()) + shift
        except ValueError:
            return m.group(0)
        return b'"createdAt":"%s"' % dt.isoformat().replace("+00:00", "Z").encode()

    return _CREATED.sub(created, raw).replace(b"did:plc:", b"did:plc:l%d" % k)


@dataclass
class ReplayServer:
    """Serve ``events`` (raw Jetstream lines) from a background thread.

    Parameters
    ----------
    events
        The frames, in stream order.
    rate
        Events per second (None: as fast as the client reads).
    drop_after
        Close each of the first ``len(drop_after)`` connections after that many events.
    garbage
        ``{index: frame}``: send ``frame`` before event ``index`` (first connection only).
    loops
        Serve the events this many times in a row (for long rehearsals). Copy ``k`` (from 0)
        is moved ``k`` times the file's time range (plus one second) later, ``time_us`` and
        ``createdAt`` alike, and every DID ``did:plc:X`` becomes ``did:plc:lkX``, so the copies
        are new accounts, posts and engagements with the same shape as the file's.
    """

    events: Sequence[bytes]
    rate: float | None = None
    drop_after: Sequence[int] = ()
    garbage: dict[int, bytes] = field(default_factory=dict)
    loops: int = 1
    port: int = 0
    connections: list[str] = field(default_factory=list)
    sent: int = 0

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> ReplayServer:
        with open(path, "rb") as f:
            events = [line.rstrip(b"\n") for line in f if line.strip()]
        return cls(events, **kw)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/subscribe"

    def start(self) -> ReplayServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(ready)), daemon=True, name="fimiscope-replay"
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the replay server did not start")
        return self

    async def _main(self, ready: threading.Event) -> None:
        import websockets

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with websockets.serve(
            self._serve, "127.0.0.1", self.port, max_size=2**22, compression=None
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stopped.wait()

    def __post_init__(self) -> None:
        first = time_us_of(self.events[0]) if self.events else None
        last = time_us_of(self.events[-1]) if self.events else None
        self._period = (last - first + 1_000_000) if first is not None and last else 0

    def __len__(self) -> int:
        return len(self.events) * self.loops

    def event(self, j: int) -> bytes:
        """The ``j``-th frame of the (looped) stream."""
        k, i = divmod(j, len(self.events))
        raw = self.events[i]
        return raw if k == 0 else _shifted(raw, k, k * self._period)

    def _time_us(self, j: int) -> int:
        k, i = divmod(j, len(self.events))
        return (time_us_of(self.events[i]) or 0) + k * self._period

    async def _serve(self, ws: Any) -> None:
        path = ws.request.path
        self.connections.append(path)
        n_conn = len(self.connections)
        query = parse_qs(urlsplit(path).query)
        wanted = {c.encode() for c in query.get("wantedCollections", [])}
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        start = 0
        if cursor is not None:
            lo, hi = 0, len(self)
            while lo < hi:  # events are in time order: first with time_us >= cursor
                mid = (lo + hi) // 2
                if self._time_us(mid) < cursor:
                    lo = mid + 1
                else:
                    hi = mid
            start = lo
        drop = self.drop_after[n_conn - 1] if n_conn <= len(self.drop_after) else None
        sent = 0
        t0 = time.monotonic()
        for i in range(start, len(self)):
            if n_conn == 1 and i in self.garbage:
                await ws.send(self.garbage[i])
            raw = self.event(i)
            if wanted:
                col = _collection(raw)
                if col is not None and col not in wanted:
                    continue
            await ws.send(raw.decode())
            sent += 1
            self.sent += 1
            if drop is not None and sent >= drop:
                await ws.close()
                return
            if self.rate is not None and sent % 100 == 0:
                ahead = sent / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        # Like the live service: the connection stays open, waiting for new events.
        await self._stopped.wait()

    def stop(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
