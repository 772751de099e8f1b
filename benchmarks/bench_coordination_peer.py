# ruff: noqa: E501 -- the report lines are long f-strings; splitting them hurts reading them
"""fimiscope's co-repost pair step against the QUT coordination-network-toolkit's co_retweet.

For each size: generate reposts (numpy), write them as the toolkit's CSV import and as
fimiscope actions (Parquet), then in one run

* the peer as its users run it: ``compute_networks DB preprocess --format csv FILE`` then
  ``compute_networks DB compute co_retweet --time_window W --min_edge_weight M``;
* fimiscope: load the actions into DuckDB and run ``pair_counts(window=W,
  min_repetitions=M)``, plus ``qut_network(qut_compatible=True)`` to reproduce the peer's
  table row for row;

each in its own process, with wall time and peak RSS (psutil, sampling the process tree
every 0.1 s). Then the edge sets are compared exactly, and every difference is classified.

    .venv/bin/python benchmarks/bench_coordination_peer.py --sizes 100k,1M --peer-sizes 100k,1M

The peer is looked up in this interpreter (``make bench`` installs it with the ``bench``
extra) or in ``--peer-python`` (a separate venv).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * mult)


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# -- measuring a child process tree -------------------------------------------------------------
def run_measured(cmd: list[str], *, timeout: float | None = None) -> dict:
    import resource

    import psutil

    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    peak = {"tree": 0, "single": 0}
    stop = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = []
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss.append(p.memory_info().rss)
                if rss:
                    peak["tree"] = max(peak["tree"], sum(rss))
                    peak["single"] = max(peak["single"], max(rss))
            except psutil.Error:
                pass
            stop.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    stop.set()
    th.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
        "peak_rss": peak["tree"],
        "peak_rss_single": peak["single"],
        "timed_out": timed_out,
        "returncode": proc.returncode,
        "stdout": out,
        "stderr": err,
    }


# -- the fimiscope side (run in a child process) -------------------------------------------------
def fimiscope_worker(args: argparse.Namespace) -> None:
    import duckdb

    from fimiscope.coordination.compat import qut_network
    from fimiscope.coordination.pairs import pair_counts

    con = duckdb.connect(
        args.db, config={"memory_limit": args.memory_limit, "threads": args.threads}
    )
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE acts AS SELECT * FROM read_parquet('{args.actions}')")
    load = time.perf_counter() - t
    import resource

    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    t, c = time.perf_counter(), cpu()
    pair_counts(
        con,
        "acts",
        window=args.window,
        min_repetitions=args.min_weight,
        partitions=args.partitions,
        out="pairs",
    )
    pairs = time.perf_counter() - t
    res = {
        "load_s": load,
        "pairs_s": pairs,
        "pairs_cpu_s": cpu() - c,
        "engine": getattr(pair_counts, "last_engine", "sql"),
    }
    # The timed call above is the first in a fresh process: it includes importing numba and
    # loading the compiled kernel from numba's on-disk cache (compiling it, on the very first
    # run after an install). A long-lived process pays that once; the same call again:
    t, c = time.perf_counter(), cpu()
    pair_counts(
        con,
        "acts",
        window=args.window,
        min_repetitions=args.min_weight,
        partitions=args.partitions,
        out="pairs_warm",
    )
    res["pairs_warm_s"] = time.perf_counter() - t
    res["pairs_warm_cpu_s"] = cpu() - c
    same = con.execute(
        "SELECT count(*) FROM ((FROM pairs EXCEPT ALL FROM pairs_warm) "
        "UNION ALL (FROM pairs_warm EXCEPT ALL FROM pairs))"
    ).fetchone()[0]
    if same:
        raise SystemExit(f"second pair_counts call differs in {same} rows")
    con.execute("DROP TABLE pairs_warm")
    if args.qut_compatible:
        t = time.perf_counter()
        qut_network(
            con,
            "acts",
            time_window=args.window,
            min_edge_weight=args.min_weight,
            qut_compatible=True,
            out="qut",
        )
        res["qut_s"] = time.perf_counter() - t
    res["edges"] = con.execute("SELECT count(*) FROM pairs").fetchone()[0]
    con.close()
    print(json.dumps(res))


# -- comparison ---------------------------------------------------------------------------------
def compare(fs_db: str, peer_db: str, bots: list[str], has_qut: bool) -> dict:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(fs_db)
    rows = (
        sqlite3.connect(peer_db)
        .execute(
            "SELECT CAST(user_1 AS TEXT), CAST(user_2 AS TEXT), weight FROM co_retweet_network"
        )
        .fetchall()
    )
    cols = list(zip(*rows, strict=True)) if rows else [[], [], []]
    con.register(
        "peer_raw",
        pa.table(
            {
                "user_1": pa.array(cols[0], pa.string()),
                "user_2": pa.array(cols[1], pa.string()),
                "weight": pa.array(cols[2], pa.int64()),
            }
        ),
    )

    def q(sql: str) -> list[tuple]:
        return con.execute(sql).fetchall()

    r: dict = {"peer_rows": len(rows)}
    r["self_loops"] = q("SELECT count(*) FROM peer_raw WHERE user_1 = user_2")[0][0]
    q(
        "CREATE TEMP TABLE peer_u AS SELECT least(user_1, user_2) a, greatest(user_1, user_2) b, "
        "max(CASE WHEN user_1 < user_2 THEN weight END) w_ab, "
        "max(CASE WHEN user_1 > user_2 THEN weight END) w_ba "
        "FROM peer_raw WHERE user_1 <> user_2 GROUP BY ALL"
    )
    r["peer_undirected"] = q("SELECT count(*) FROM peer_u")[0][0]
    r["fs_edges"] = q("SELECT count(*) FROM pairs")[0][0]
    j = q(
        "SELECT "
        " count(*) FILTER (WHERE f.account_a IS NOT NULL AND p.a IS NOT NULL "
        "   AND p.w_ab = f.n_targets AND p.w_ba = f.n_targets) AS same, "
        " count(*) FILTER (WHERE f.account_a IS NOT NULL AND p.a IS NOT NULL "
        "   AND NOT (p.w_ab IS NOT DISTINCT FROM f.n_targets AND p.w_ba IS NOT DISTINCT FROM f.n_targets)) "
        "   AS same_edge_other_weight, "
        " count(*) FILTER (WHERE f.account_a IS NULL AND (p.w_ab IS NULL OR p.w_ba IS NULL)) "
        "   AS peer_only_one_direction, "
        " count(*) FILTER (WHERE f.account_a IS NULL AND p.w_ab IS NOT NULL AND p.w_ba IS NOT NULL) "
        "   AS peer_only_both_directions, "
        " count(*) FILTER (WHERE p.a IS NULL) AS fs_only, "
        " count(*) FILTER (WHERE p.a IS NOT NULL AND p.w_ab IS DISTINCT FROM p.w_ba) AS lopsided "
        "FROM pairs f FULL JOIN peer_u p ON f.account_a = p.a AND f.account_b = p.b"
    )[0]
    keys = (
        "same",
        "same_edge_other_weight",
        "peer_only_one_direction",
        "peer_only_both_directions",
        "fs_only",
        "lopsided",
    )
    r.update(dict(zip(keys, j, strict=True)))
    # Why do peer-only edges exist? Re-reposts: a account that reposted a post twice within
    # the window counts two messages on the peer (directed), one target here.
    con.register("bots", pa.table({"u": pa.array(bots, pa.string())}))
    r["planted_pairs"] = len(bots) * (len(bots) - 1) // 2
    r["planted_found_fs"] = q(
        "SELECT count(*) FROM pairs WHERE account_a IN (SELECT u FROM bots) "
        "AND account_b IN (SELECT u FROM bots)"
    )[0][0]
    r["planted_found_peer"] = q(
        "SELECT count(*) FROM peer_u WHERE a IN (SELECT u FROM bots) AND b IN (SELECT u FROM bots)"
    )[0][0]
    if has_qut:
        d = q(
            "SELECT count(*) FROM ((SELECT user_1, user_2, weight FROM qut EXCEPT ALL "
            "SELECT user_1, user_2, weight FROM peer_raw) UNION ALL (SELECT user_1, user_2, weight "
            "FROM peer_raw EXCEPT ALL SELECT user_1, user_2, weight FROM qut))"
        )[0][0]
        r["qut_compatible_rows"] = q("SELECT count(*) FROM qut")[0][0]
        r["qut_compatible_diff_rows"] = d
    con.close()
    return r


# -- driver -------------------------------------------------------------------------------------
def peer_command(peer_python: str | None) -> list[str] | None:
    if peer_python:
        return [peer_python, "-m", "coordination_network_toolkit"]
    if importlib.util.find_spec("coordination_network_toolkit") is not None:
        return [sys.executable, "-m", "coordination_network_toolkit"]
    return None


def gb(x: int) -> str:
    return f"{x / 2**30:.2f} GB"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="100k,1M,10M", help="numbers of reposts, e.g. 100k,1M,10M")
    ap.add_argument("--peer-sizes", default=None, help="sizes to run the peer at (default: all)")
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument(
        "--min-weight",
        type=int,
        default=2,
        help="peer --min_edge_weight (its CLI default) = fimiscope min_repetitions",
    )
    ap.add_argument(
        "--peer-timeout", type=float, default=1200, help="seconds before the peer is stopped"
    )
    ap.add_argument(
        "--peer-python", default=None, help="python of a venv with coordination-network-toolkit"
    )
    ap.add_argument("--n-cpus", type=int, default=os.cpu_count() or 2, help="peer --n_cpus")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads")
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit")
    ap.add_argument(
        "--partitions", type=int, default=None, help="pair_counts partitions (default: automatic)"
    )
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--actions", help=argparse.SUPPRESS)
    ap.add_argument("--qut-compatible", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._worker:
        fimiscope_worker(args)
        return

    import _peer_data
    import duckdb

    sizes = [_size(s) for s in args.sizes.split(",")]
    peer_sizes = (
        set(sizes)
        if args.peer_sizes is None
        else {_size(s) for s in args.peer_sizes.split(",") if s}
    )
    peer = peer_command(args.peer_python)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fimiscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"workdir {work}; peer: {' '.join(peer) if peer else 'NOT INSTALLED'}", file=sys.stderr)
    table = []
    for n in sizes:
        label = _label(n)
        t = time.perf_counter()
        data = _peer_data.generate(n, seed=args.seed)
        gen_s = time.perf_counter() - t
        actions = work / f"actions_{label}.parquet"
        csv = work / f"peer_{label}.csv"
        con = duckdb.connect()
        con.register("a", _peer_data.actions_table(data))
        con.execute(f"COPY a TO '{actions}' (FORMAT parquet)")
        run_peer = peer is not None and n in peer_sizes
        if run_peer:
            con.register("c", _peer_data.peer_csv_table(data))
            con.execute(f"COPY c TO '{csv}' (FORMAT csv, HEADER true)")
        con.close()
        print(f"[{label}] generated in {gen_s:.1f} s", file=sys.stderr)

        fs_db = work / f"fimiscope_{label}.duckdb"
        fs_db.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            __file__,
            "--_worker",
            "--db",
            str(fs_db),
            "--actions",
            str(actions),
            "--window",
            str(args.window),
            "--min-weight",
            str(args.min_weight),
            "--threads",
            str(args.threads),
            "--memory-limit",
            args.memory_limit,
        ]
        if args.partitions is not None:
            cmd += ["--partitions", str(args.partitions)]
        if run_peer:
            cmd.append("--qut-compatible")
        fs = run_measured(cmd)
        if fs["returncode"] != 0:
            raise SystemExit(f"fimiscope failed:\n{fs['stderr']}")
        fs.update(json.loads(fs["stdout"].strip().splitlines()[-1]))
        row = {"size": label, "fs": fs, "peer": None, "cmp": None, "load_avg": os.getloadavg()}
        if run_peer:
            assert peer is not None
            peer_db = work / f"peer_{label}.db"
            for p in (peer_db, Path(f"{peer_db}-wal"), Path(f"{peer_db}-shm")):
                p.unlink(missing_ok=True)
            pre = run_measured(
                [*peer, str(peer_db), "preprocess", "--format", "csv", str(csv)],
                timeout=args.peer_timeout,
            )
            left = args.peer_timeout - pre["wall_s"]
            comp = None
            if not pre["timed_out"] and pre["returncode"] == 0 and left > 0:
                comp = run_measured(
                    [
                        *peer,
                        str(peer_db),
                        "compute",
                        "co_retweet",
                        "--time_window",
                        str(int(args.window)),
                        "--min_edge_weight",
                        str(args.min_weight),
                        "--n_cpus",
                        str(args.n_cpus),
                    ],
                    timeout=left,
                )
            row["peer"] = {"pre": pre, "comp": comp}
            if comp is not None and not comp["timed_out"] and comp["returncode"] == 0:
                row["cmp"] = compare(str(fs_db), str(peer_db), [str(b) for b in data.bots], True)
        table.append(row)
        report(row, args)
    print("\nsummary")
    for row in table:
        report(row, args, short=True)


def report(row: dict, args: argparse.Namespace, short: bool = False) -> None:
    fs, peer, cmp_ = row["fs"], row["peer"], row["cmp"]
    fs_line = (
        f"fimiscope ({fs['engine']}): pair step {fs['pairs_s']:.2f} s wall, {fs['pairs_cpu_s']:.2f} s CPU "
        f"(first call in the process; again: {fs['pairs_warm_s']:.2f} s wall, {fs['pairs_warm_cpu_s']:.2f} s CPU) "
        f"(load {fs['load_s']:.2f} s, process "
        f"{fs['wall_s']:.1f} s incl. qut-compatible {fs.get('qut_s', 0):.1f} s), "
        f"peak RSS {gb(fs['peak_rss'])}, {fs['edges']} edges"
    )
    if peer is None:
        peer_line = "peer: not run at this size"
    else:
        pre, comp = peer["pre"], peer["comp"]
        if pre["timed_out"] or comp is None or comp["timed_out"]:
            peer_line = f"peer: did not finish in {args.peer_timeout:.0f} s (preprocess {pre['wall_s']:.1f} s)"
        elif comp["returncode"] != 0:
            peer_line = f"peer: failed ({comp['stderr'].strip().splitlines()[-1:]})"
        else:
            ratio = comp["wall_s"] / fs["pairs_s"]
            ratio_all = (pre["wall_s"] + comp["wall_s"]) / (fs["load_s"] + fs["pairs_s"])
            cpu_ratio = comp["cpu_s"] / max(fs["pairs_cpu_s"], 1e-9)
            peer_line = (
                f"peer: compute co_retweet {comp['wall_s']:.1f} s wall, {comp['cpu_s']:.1f} s CPU (+ preprocess {pre['wall_s']:.1f} s), "
                f"peak RSS {gb(max(pre['peak_rss'], comp['peak_rss']))} (process tree); "
                f"speed-up {ratio:.0f}x on the pair step (wall), {cpu_ratio:.0f}x (CPU), {ratio_all:.0f}x load+pairs; "
                f"warm call {comp['wall_s'] / fs['pairs_warm_s']:.0f}x (wall), {comp['cpu_s'] / max(fs['pairs_warm_cpu_s'], 1e-9):.0f}x (CPU)"
            )
    load = " ".join(f"{x:.1f}" for x in row["load_avg"])
    print(
        f"[{row['size']}] {fs_line}\n[{row['size']}] {peer_line}\n[{row['size']}] load average (1, 5, 15 min) after fimiscope: {load}"
    )
    if cmp_ and not short:
        c = cmp_
        print(
            f"[{row['size']}] edges: peer table {c['peer_rows']} rows = {c['self_loops']} self-loops + "
            f"{c['peer_rows'] - c['self_loops']} directed rows -> {c['peer_undirected']} undirected; "
            f"fimiscope {c['fs_edges']}\n"
            f"[{row['size']}]   identical (both directions, weight = n_targets): {c['same']}\n"
            f"[{row['size']}]   same edge, other weight (re-reposts counted as messages): {c['same_edge_other_weight']}\n"
            f"[{row['size']}]   peer only, one direction only (lopsided directed weight): {c['peer_only_one_direction']}\n"
            f"[{row['size']}]   peer only, both directions (re-reposts lift < {args.min_weight} targets over the bar): {c['peer_only_both_directions']}\n"
            f"[{row['size']}]   fimiscope only: {c['fs_only']}   lopsided pairs on the peer: {c['lopsided']}\n"
            f"[{row['size']}]   planted bot pairs {c['planted_pairs']}: found by fimiscope {c['planted_found_fs']}, by peer {c['planted_found_peer']}\n"
            f"[{row['size']}]   qut_compatible=True vs peer table: {c['qut_compatible_rows']} rows, {c['qut_compatible_diff_rows']} differing"
        )


if __name__ == "__main__":
    main()
