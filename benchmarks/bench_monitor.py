"""Live monitor throughput, lag, memory and time to the first alert (issue 9).

A replay server in a separate process streams a scenario's Jetstream file over websocket on
127.0.0.1 at ``--rate`` events per second (``--loops N`` serves the file N times, each copy
later in time and with renamed DIDs, for runs longer than the file); this process runs
:class:`fimiscope.monitor.Monitor` with windowed detection into a fresh store and reports
stored events per second (and per CPU second), the writer's stages, the queue and ingest lag,
the detection lag, resident memory, CPU seconds of both processes, and the delay from the
first action of the planted operation (when the server sent it, by its schedule) to the first
alert about a group of its accounts.

    .venv/bin/python benchmarks/bench_monitor.py --scenario /tmp/sc_1m --rate 20000 \
        --duration 600 --loops 14 --detect-share 0.25

Without ``--scenario`` the script writes one into ``bench-data/monitor_scenario`` first
(``generate_scenario(actions=1_000_000, seed=7, bluesky_share=0.85)``) and reuses it afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _serve(path: str, rate: float, loops: int, port_q: Any, start_q: Any, cpu_q: Any) -> None:
    from fimiscope.monitor.replay import ReplayServer

    server = ReplayServer.from_file(path, rate=rate, loops=loops).start()
    port_q.put(server.port)
    # The schedule starts with the first connection.
    while not server.connections:
        time.sleep(0.001)
    start_q.put(time.time())
    while server.sent < len(server):
        time.sleep(0.2)
    t = os.times()
    cpu_q.put((time.time(), t.user + t.system))
    while True:
        time.sleep(3600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=None)
    ap.add_argument("--rate", type=float, default=20_000)
    ap.add_argument("--span", type=float, default=3 * 86400)
    ap.add_argument("--every", type=float, default=6 * 3600)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--detect-share", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=20_000)
    ap.add_argument("--loops", type=int, default=1, help="replay the file this many times")
    ap.add_argument("--no-detect", action="store_true", help="store only (no windows)")
    ap.add_argument("--batch-seconds", type=float, default=0.5)
    args = ap.parse_args()

    from fimiscope.monitor import CallbackSink, JetstreamSource, Monitor, WindowConfig
    from fimiscope.monitor.sources import time_us_of
    from fimiscope.store import Store

    if args.scenario is None:
        args.scenario = Path(__file__).resolve().parent.parent / "bench-data" / "monitor_scenario"
        if not (args.scenario / "ground_truth.json").exists():
            from fimiscope.simulate import generate_scenario

            print(f"writing the scenario into {args.scenario}", flush=True)
            generate_scenario(args.scenario, actions=1_000_000, seed=7, bluesky_share=0.85)
    jet = args.scenario / "jetstream.jsonl"
    truth = json.loads((args.scenario / "ground_truth.json").read_text())
    ops: set[str] = set()
    for op in truth["operations"]:
        if op["kind"] == "bot_network":
            ops |= {a["account_id"] for a in op["accounts"] if a["platform"] == "bluesky"}
    # Index of the first non-post action (repost, like, quote, reply) by an operation account.
    first_idx = None
    n_events = 0
    with jet.open("rb") as f:
        for i, line in enumerate(f):
            n_events += 1
            if (
                first_idx is None
                and b'"operation":"create"' in line
                and b"app.bsky.feed.post" not in line.split(b'"collection":"', 1)[-1][:20]
            ):
                did = json.loads(line)["did"]
                if did in ops:
                    first_idx = i
    assert time_us_of(b'{"time_us":1}') == 1

    ctx = mp.get_context("spawn")
    port_q, start_q, cpu_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(
        target=_serve,
        args=(str(jet), args.rate, args.loops, port_q, start_q, cpu_q),
        daemon=True,
    )
    server.start()
    port = port_q.get(timeout=120)
    first_alert: list[float] = []

    def on_alert(note: dict[str, Any]) -> None:
        members = set(note.get("detail", {}).get("members", []))
        if (
            not first_alert
            and note["kind"] == "new_group"
            and members
            and len(members & ops) / len(members) >= 0.5
        ):
            first_alert.append(time.time())

    statuses: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb", memory_limit=args.memory_limit)
        mon = Monitor(
            store,
            JetstreamSource(f"ws://127.0.0.1:{port}/subscribe", capacity=200_000),
            windows=None if args.no_detect else WindowConfig(span=args.span, every=args.every),
            sinks=[CallbackSink(on_alert)],
            duration=args.duration,
            detect_share=args.detect_share,
            batch_size=args.batch_size,
            batch_seconds=args.batch_seconds,
            idle_seconds=5,
            status_seconds=10,
            log=lambda s: (statuses.append(s), print(s, file=sys.stderr)),
        )
        cpu0 = os.times()
        t0 = time.time()
        stats = mon.run()
        wall = time.time() - t0
        cpu1 = os.times()
        started = start_q.get(timeout=5)
        try:
            server_done, server_cpu = cpu_q.get(timeout=1)
        except Exception:
            server_done, server_cpu = None, None
        store_mb = (Path(tmp) / "bench.duckdb").stat().st_size / 1e6
        store.close()
    server.terminate()
    cpu_mon = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    active = wall - 5  # the idle stop waits 5 s after the last frame
    sent_first = started + first_idx / args.rate if first_idx is not None else None
    t_start = t0 + (stats.first_batch_at or 0)
    t_last = t0 + (stats.last_batch_at or 0)
    result = {
        "events": n_events * args.loops,
        "sent_per_s": round(n_events * args.loops / (server_done - started), 0)
        if server_done
        else None,
        "server_cpu_s": round(server_cpu, 1) if server_cpu is not None else None,
        "stored_per_s_first_to_last_batch": round(stats.stored / max(t_last - t_start, 1e-9), 0),
        "store_mb": round(store_mb, 0),
        "stored": stats.stored,
        "rate_target": args.rate,
        "wall_s": round(wall, 1),
        "events_per_s": round(stats.stored / active, 0),
        "cpu_s_monitor": round(cpu_mon, 1),
        "cpu_s_per_100k_stored": round(cpu_mon * 1e5 / max(stats.stored, 1), 2),
        "stored_per_cpu_s": round(stats.stored / max(cpu_mon, 1e-9), 0),
        "writer_stages": stats.stages,
        "peak_rss_mb": round(stats.peak_rss_mb, 0),
        "max_queue": stats.max_queue,
        "max_ingest_lag_s": round(stats.max_ingest_lag_s, 2),
        "max_detect_lag_stream_s": round(stats.max_detect_lag_s, 0),
        "windows": stats.windows,
        "windows_skipped": stats.windows_skipped,
        "alerts": stats.alerts,
        "first_op_action_index": first_idx,
        "first_alert_after_first_op_action_s": round(first_alert[0] - sent_first, 1)
        if first_alert and sent_first
        else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
