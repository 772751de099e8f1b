"""Load benchmark of the dashboard: latency percentiles of the main pages on loopback.

Starts ``fimiscope serve`` as its own process on 127.0.0.1 over a store that already holds
detect and characterize runs (``--store``), or builds one from the scenario generator
(``--actions``). Then, per page, sends ``--requests`` GETs with at most ``--concurrency`` in
flight (asyncio + httpx, one logged-in session) and reports p50 / p95 / p99 and throughput, with
the CPU seconds of the server process. The machine may be shared: compare CPU seconds, not only
wall time.

    .venv/bin/python benchmarks/bench_web.py --actions 1000000
    .venv/bin/python benchmarks/bench_web.py --store /path/store.duckdb --requests 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

USER, PASSWORD = "bench", "benchmark passphrase"


def build_store(workdir: Path, actions: int, seed: int) -> Path:
    from fimiscope.characterize import characterize
    from fimiscope.coordination import detect
    from fimiscope.ingest import ingest
    from fimiscope.simulate import generate_scenario
    from fimiscope.store import Store

    db = workdir / f"web_{actions}.duckdb"
    if db.exists():
        return db
    files = generate_scenario(workdir / f"scenario_{actions}", actions=actions, seed=seed)
    with Store(db) as st:
        ingest(st, [files.x_v2, files.x_liking_users, files.jetstream])
        run = detect(st, seed=seed)
        characterize(st, coordination_run=run.run_id, seed=seed)
    return db


def ensure_user(db: Path) -> None:
    from fimiscope.store import Store
    from fimiscope.web.users import add_user, get_user

    with Store(db) as st:
        if get_user(st, USER) is None:
            add_user(st, USER, PASSWORD, role="analyst")


def pick_targets(db: Path) -> dict[str, str]:
    """Real ids for the detail pages: the largest group, its top member, its top shared post."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        run = con.execute(
            "SELECT run_id FROM runs WHERE stage = 'detect' AND status = 'ok' "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchall()[0][0]
        gid, platform = con.execute(
            "SELECT group_id, platform FROM coord_groups WHERE run_id = ? "
            "ORDER BY size DESC LIMIT 1",
            [run],
        ).fetchall()[0]
        member = con.execute(
            "SELECT account_id FROM coord_members WHERE run_id = ? AND group_id = ? "
            "ORDER BY strength DESC LIMIT 1",
            [run, gid],
        ).fetchall()[0][0]
        post = con.execute(
            "SELECT ref_post_id FROM posts WHERE platform = ? AND account_id = ? "
            "AND kind = 'repost' AND ref_post_id IS NOT NULL LIMIT 1",
            [platform, member],
        ).fetchall()
    finally:
        con.close()
    return {
        "overview": "/",
        "groups": "/groups",
        "groups sorted": "/groups?sort=size&desc=1&page=1",
        "group": f"/groups/{run}/{gid}",
        "account": f"/accounts/{platform}/{member}",
        "post": f"/posts/{platform}/{post[0][0]}" if post else "/",
        "search (common)": "/search?q=%E9%81%B8%E6%8C%99",  # 選挙
        "search (rare)": "/search?q=zzqqxx-not-there",
        "state media": "/state-media",
        "boosted": "/boosted",
        "narratives": "/narratives",
        "runs": "/runs",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def login(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        r = c.post(
            "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        if r.status_code != 303:
            raise SystemExit(f"log-in failed: {r.status_code}")
        return c.cookies


async def hammer(
    base: str, cookies: httpx.Cookies, path: str, n: int, concurrency: int
) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, cookies=cookies, timeout=120, limits=limits
    ) as client:
        await client.get(path)  # warm-up (first query plans, page cache)

        async def one() -> None:
            nonlocal errors
            async with sem:
                t = time.perf_counter()
                r = await client.get(path)
                lat.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {
        "requests": n,
        "errors": errors,
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1),
        "req_per_s": round(n / wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="An analysed store (default: build one).")
    ap.add_argument("--actions", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("bench-data"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--requests", type=int, default=200, help="Requests per page.")
    ap.add_argument("--concurrency", type=int, default=8, help="Requests in flight at most.")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    args = ap.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.store or build_store(args.workdir, args.actions, args.seed)
    ensure_user(db)
    targets = pick_targets(db)
    from fimiscope.store import Store

    with Store(db, read_only=True) as st:
        size = {t: st.count(t) for t in ("posts", "engagements", "accounts")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FIMISCOPE_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fimiscope", "serve", "--store", str(db), "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        cookies = login(base)
        server = psutil.Process(proc.pid)
        results: dict[str, Any] = {}
        print(f"store {db}: {size}", file=sys.stderr)
        print(
            f"{'page':<16} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'req/s':>7} {'srv CPU s':>9} err"
        )
        for name, path in targets.items():
            cpu0 = server.cpu_times()
            r = asyncio.run(hammer(base, cookies, path, args.requests, args.concurrency))
            cpu1 = server.cpu_times()
            r["server_cpu_s"] = round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2)
            r["path"] = path
            results[name] = r
            print(
                f"{name:<16} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
                f"{r['max_ms']:>8} {r['req_per_s']:>7} {r['server_cpu_s']:>9} {r['errors']}",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {
        "store": str(db),
        "rows": size,
        "requests_per_page": args.requests,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "pages": results,
    }
    if args.json:
        args.json.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
