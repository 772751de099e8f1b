"""Ingest throughput and peak memory for X API v2 JSON Lines.

Run: ``.venv/bin/python benchmarks/bench_ingest.py --posts 1000000 10000000``
Each size is ingested by a fresh subprocess (``fimiscope ingest``) into a fresh store; the
script prints posts/s and the child's peak RSS. Data is generated into ``bench-data/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _xv2_data import write_pages


def run(n: int, data_dir: Path, memory_limit: str) -> dict[str, float]:
    data = data_dir / f"x_v2_{n}.jsonl"
    if not data.exists():
        t = time.perf_counter()
        write_pages(data, n)
        print(f"generated {data} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    store = data_dir / f"store_{n}.duckdb"
    for p in (store, Path(str(store) + ".wal")):
        p.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-c",
        "import resource,sys; from fimiscope.cli import main; rc = main(sys.argv[1:]); "
        "r = resource.getrusage(resource.RUSAGE_SELF); "
        "print(r.ru_utime + r.ru_stime, r.ru_maxrss, file=sys.stderr); "
        "sys.exit(rc)",
        "ingest",
        str(data),
        "--store",
        str(store),
        "--memory-limit",
        memory_limit,
        "--json",
    ]
    t = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "FIMISCOPE_NO_PROGRESS": "1"}
    )
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    cpu, peak_kb = proc.stderr.strip().splitlines()[-1].split()
    out = proc.stdout
    info, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "files"') :])
    stored = sum(int(f.get("posts", 0)) for f in info["files"])
    if stored < n:  # a fast benchmark that lost rows is no result
        raise SystemExit(f"only {stored} of {n} posts were stored:\n{proc.stdout[:2000]}")
    return {
        "posts": n,
        "seconds": seconds,
        "posts_per_s": n / seconds,
        "cpu_s": float(cpu),
        "peak_rss_mb": int(peak_kb) / 1024,
        "file_mb": data.stat().st_size / 2**20,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    ap.add_argument("--memory-limit", default="1GB")
    args = ap.parse_args()
    args.data_dir.mkdir(exist_ok=True)
    # On a shared machine the wall time depends on the other jobs; CPU seconds per million
    # posts do not (100,000 posts/s on 2 cores allows 20).
    print(
        f"| posts | file MB | seconds | posts/s | CPU s | CPU s per 1M | peak RSS MB | load |  "
        f"({os.cpu_count()} cores)"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.posts:
        load = os.getloadavg()[0]
        r = run(n, args.data_dir, args.memory_limit)
        load = max(load, os.getloadavg()[0])
        print(
            f"| {n:,} | {r['file_mb']:.0f} | {r['seconds']:.1f} | {r['posts_per_s']:,.0f} "
            f"| {r['cpu_s']:.1f} | {r['cpu_s'] * 1e6 / n:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {load:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
