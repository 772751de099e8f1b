"""Quality and speed of the coordination engine on the election scenario.

Usage::

    .venv/bin/python benchmarks/bench_coordination_quality.py --actions 1000000 [--calibrate]

Scoring (documented in docs/methods.md):

* A *coordination operation* is a ground-truth operation of kind ``bot_network``, taken per
  platform (platform identity: the same operator's X and Bluesky accounts form two graphs).
  Operations of other kinds (state outlet accounts that are amplified, a false narrative
  posted by many organic users) are not coordinated behaviour among their own accounts and
  are reported, not scored.
* A detected group is *correct* when >= 50 % of its members belong to one coordination
  operation. Group precision = correct groups / groups.
* An operation is *recovered* when the correct groups of that operation together contain
  >= 50 % of its accounts. Group recall = recovered operations / operations.
* A benign look-alike (fans, news bots, breaking news, hashtag campaign) is *flagged* when a
  group has >= 50 % of its members from it.
* Account precision / recall: members of any group vs. all coordination-operation accounts.
* ``--calibrate`` re-runs detect on a copy of the store without any operation account
  (organic activity only): every edge found there is a chance edge; compare with E.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from fimiscope.simulate.evaluate import Truth, load_truth, score_groups


def _truth(path: Path) -> tuple[dict, dict]:
    t = load_truth(path)
    return {"ops": t.operations, "other_ops": t.other_operations}, t.benign


def score(groups: list[set], truth: dict, benign: dict, min_size: int = 3) -> dict:
    return score_groups(groups, Truth(truth["ops"], truth["other_ops"], benign), min_size)


def weight2_rule(store, window: float, op_accounts: set) -> dict:
    """The fixed rule: an edge wherever a pair co-reposted/co-liked >= 2 targets within Δt."""
    from fimiscope.coordination.pairs import pair_counts

    con = store.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _b_act AS "
        "SELECT platform, account_id, 'repost' AS trace, ref_post_id AS target, "
        "created_at AS \"at\", post_id FROM posts WHERE kind = 'repost' UNION ALL "
        "SELECT platform, account_id, 'like', target_post_id, \"at\", NULL FROM engagements "
        "WHERE kind = 'like' AND \"at\" IS NOT NULL"
    )
    pair_counts(con, "_b_act", window=window, min_repetitions=2, out="_b_pairs")
    rows = con.execute("SELECT DISTINCT platform, account_a, account_b FROM _b_pairs").fetchall()
    tp = sum((p, a) in op_accounts and (p, b) in op_accounts for p, a, b in rows)
    return {"edges": len(rows), "op_op_edges": tp, "other_edges": len(rows) - tp}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    from fimiscope.coordination import detect
    from fimiscope.ingest import ingest
    from fimiscope.simulate.generate import generate_scenario
    from fimiscope.store import Store

    work = args.workdir or Path(tempfile.mkdtemp(prefix="fimiscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "store.duckdb"
    timings = {}
    t = time.perf_counter()
    files = generate_scenario(work / "scenario", actions=args.actions, seed=args.seed)
    timings["generate_s"] = round(time.perf_counter() - t, 1)
    truth, benign = _truth(files.ground_truth)
    if not db.exists():
        t = time.perf_counter()
        with Store(db) as s:
            ingest(s, [files.x_v2, files.x_liking_users, files.jetstream])
        timings["ingest_s"] = round(time.perf_counter() - t, 1)
    with Store(db) as s:
        t = time.perf_counter()
        r = detect(s)
        timings["detect_s"] = round(time.perf_counter() - t, 1)
        groups = [set(zip([g.platform] * g.size, g.members, strict=True)) for g in r.groups]
        result = score(groups, truth, benign)
        ops_acc = set().union(*truth["ops"].values())
        result["weight_ge_2_rule"] = weight2_rule(s, r.window, ops_acc)
        result["run"] = {
            "run_id": r.run_id,
            "window_s": r.window,
            "fast_window_s": r.fast_window,
            "alpha": r.alpha,
            "tested_pairs": r.tested_pairs,
            "candidate_pairs": r.candidate_pairs,
            "edges": r.edges,
            "stage_seconds": r.seconds,
        }
        result["groups_found"] = [
            {
                "id": g.group_id,
                "platform": g.platform,
                "size": g.size,
                "traces": g.traces,
                "summary": g.summary,
            }
            for g in r.groups
        ]
    if args.calibrate:
        cal = work / "organic.duckdb"
        shutil.copy(db, cal)
        every_op = set().union(*truth["ops"].values(), *truth["other_ops"].values())
        with Store(cal) as s:
            s.con.execute("CREATE TEMP TABLE _ops (platform VARCHAR, account_id VARCHAR)")
            s.con.executemany("INSERT INTO _ops VALUES (?, ?)", sorted(every_op))
            for table in ("posts", "engagements"):
                s.con.execute(
                    f"DELETE FROM {table} WHERE (platform, account_id) IN "
                    "(SELECT (platform, account_id) FROM _ops)"
                )
            t = time.perf_counter()
            rc = detect(s, window=result["run"]["window_s"])
            result["calibration_organic_only"] = {
                "edges": rc.edges,
                "groups": len(rc.groups),
                "expected_false_edges": 1.0,
                "tested_pairs": rc.tested_pairs,
                "seconds": round(time.perf_counter() - t, 1),
                "weight_ge_2_rule": weight2_rule(s, rc.window, set()),
            }
    result["timings"] = timings
    result["actions"] = files.actions_written
    print(json.dumps(result, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
