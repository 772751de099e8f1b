"""Scale of the co-repost step: ``pair_counts`` on 1M / 10M synthetic repost actions.

Usage::

    .venv/bin/python benchmarks/bench_coordination_scale.py --actions 10000000 \\
        [--partitions N] [--memory-limit 3GB] [--threads 2] [--workdir DIR]

The actions (one ``actions`` table in a DuckDB file) mimic a large X collection:

* posts of Zipf-Mandelbrot popularity (exponent 1.1, offset 300: at 10M actions the top post
  has ~6,000 reposts), created uniformly over 30 days;
* repost delays from a log-normal (median 10 min, heavy tail) -- the usual decay of attention;
* accounts of Zipf-distributed activity (exponent 1.2), so a few are very active;
* ``--crowds`` crowd cells: one post reposted ``--crowd-size`` (default 50,000 + actions/1M *
  5,000) times within minutes (exponential delays, mean 2 min), e.g. an earthquake alert;
* one planted bot group: ``--bots`` accounts reposting the same 300 posts, each time within
  20 s of one another at an arbitrary delay after publication.

It prints the generation and load time, then the wall time, CPU seconds (user + sys, all
threads) and the peak resident memory of
``pair_counts(window=60, min_activity=3, min_repetitions=3)`` (psutil, sampled every 50 ms
over the whole process, DuckDB included), the number of pairs and whether the bot group's
pairs were all found.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def generate(n: int, seed: int, crowds: int, crowd_size: int, bots: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t_start = 1_719_792_000.0  # 2024-07-01 UTC
    span = 30 * 86400.0
    n_posts = max(2000, n // 10)
    n_accounts = max(1000, n // 15)
    bot_posts, bot_reps = 300, 300 * bots
    n_crowd = crowds * crowd_size
    n_org = n - n_crowd - bot_reps
    # organic reposts: Zipf popularity over posts, Zipf activity over accounts
    # Zipf-Mandelbrot (offset 300): heavy tail, the top post gets ~0.3 % of the reposts
    post_w = 1.0 / (np.arange(1, n_posts + 1) + 300.0) ** 1.1
    post = rng.choice(n_posts, size=n_org, p=post_w / post_w.sum())
    acct_w = 1.0 / np.arange(1, n_accounts + 1) ** 1.2
    acct = rng.permutation(n_accounts)[rng.choice(n_accounts, size=n_org, p=acct_w / acct_w.sum())]
    created = t_start + rng.random(n_posts) * span
    at = created[post] + rng.lognormal(np.log(600.0), 1.6, size=n_org)
    # crowd cells: a few mid-popularity posts, each reposted crowd_size times within minutes
    c_post = np.repeat(rng.choice(np.arange(1000, 2000), size=crowds, replace=False), crowd_size)
    c_acct = rng.integers(0, n_accounts, size=n_crowd)
    c_at = created[c_post] + rng.exponential(120.0, size=n_crowd)
    # bot group: same posts, arbitrary delay per post, members within 20 s of each other
    b_posts = rng.choice(np.arange(2000, n_posts), size=bot_posts, replace=False)
    b_delay = rng.uniform(60, 6 * 3600, size=bot_posts)
    b_post = np.tile(b_posts, bots)
    b_acct = n_accounts + np.repeat(np.arange(bots), bot_posts)
    b_at = created[b_post] + np.tile(b_delay, bots) + rng.uniform(0, 20, size=bot_reps)
    return {
        "post": np.concatenate([post, c_post, b_post]).astype(np.int64),
        "acct": np.concatenate([acct, c_acct, b_acct]).astype(np.int64),
        "at": np.concatenate([at, c_at, b_at]),
        "bot_first": np.int64(n_accounts),
    }


class PeakRSS:
    """Peak resident memory of this process, sampled in a thread (DuckDB's memory included)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process(os.getpid())
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--partitions", type=int, default=None, help="default: automatic")
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 3GB")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--crowds", type=int, default=3)
    ap.add_argument("--crowd-size", type=int, default=None)
    ap.add_argument("--bots", type=int, default=40)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    import duckdb

    from fimiscope.coordination.pairs import pair_counts

    work = args.workdir or Path(tempfile.mkdtemp(prefix="fimiscope-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"actions_{args.actions}.duckdb"
    crowd_size = args.crowd_size or 50_000 + 5_000 * (args.actions // 1_000_000)
    out: dict[str, object] = {"actions": args.actions, "db": str(db), "crowd_size": crowd_size}
    if not db.exists():
        t = time.perf_counter()
        g = generate(args.actions, args.seed, args.crowds, crowd_size, args.bots)
        out["generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        tmp = db.with_suffix(".part")
        con = duckdb.connect(str(tmp))
        cols = {k: g[k] for k in ("post", "acct", "at")}
        con.register("_g", cols)
        con.execute(
            "CREATE TABLE actions AS SELECT 'x' AS platform, 'u' || acct AS account_id, "
            "'repost' AS trace, 'p' || post AS target, "
            'to_timestamp("at") AS "at", \'r\' || row_number() OVER () AS post_id FROM _g'
        )
        con.execute("CREATE TABLE meta AS SELECT ? AS bot_first", [int(g["bot_first"])])
        con.close()
        tmp.rename(db)
        out["load_s"] = round(time.perf_counter() - t, 1)
        del g, cols
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    out["memory_limit"] = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    out["threads"] = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    bot_first = con.execute("SELECT bot_first FROM meta").fetchall()[0][0]
    import resource

    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    with PeakRSS() as mem:
        t, c = time.perf_counter(), cpu()
        pair_counts(
            con,
            "actions",
            window=args.window,
            min_activity=3,
            min_repetitions=3,
            partitions=args.partitions,
            out="pairs",
        )
        out["pair_counts_s"] = round(time.perf_counter() - t, 1)
        out["pair_counts_cpu_s"] = round(cpu() - c, 1)
        out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    out["peak_rss_gb"] = round(mem.peak / 2**30, 2)
    out["pairs"] = con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
    bots = con.execute(
        "SELECT count(*) FROM pairs WHERE CAST(substr(account_a, 2) AS BIGINT) >= ? "
        "AND CAST(substr(account_b, 2) AS BIGINT) >= ?",
        [bot_first, bot_first],
    ).fetchall()[0][0]
    n_bots = args.bots
    out["bot_pairs_found"] = f"{bots}/{n_bots * (n_bots - 1) // 2}"
    out["partitions_used"] = getattr(pair_counts, "last_partitions", args.partitions)
    out["engine"] = getattr(pair_counts, "last_engine", "sql")
    out["machine_cpus"] = os.cpu_count()
    con.execute("DROP TABLE pairs")
    con.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
