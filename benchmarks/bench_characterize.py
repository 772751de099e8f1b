"""Quality and timings of ``characterize`` on the election scenario.

Generates the scenario, ingests it, runs ``detect`` and ``characterize``, and prints:
the bot network's recovered time zone, precision/recall of the flagged posts against the
scenario's amplified posts, whether the breaking-news post and the fans' idol posts were
flagged, and the ROC AUC of the automation score against the bot accounts.

    .venv/bin/python benchmarks/bench_characterize.py --actions 1000000 --seed 7

The scenario's Bluesky outlet handles are passed as a user registry extension (the shipped
registry holds the real-world X handles and sites only), which also exercises that path.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from fimiscope.characterize import characterize
from fimiscope.coordination import detect
from fimiscope.ingest import ingest
from fimiscope.simulate import generate_scenario
from fimiscope.store import Store


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    r = rankdata(score)
    n1 = y.sum()
    n0 = len(y) - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="bench_characterize_"))
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    files = generate_scenario(work / "scenario", actions=a.actions, seed=a.seed)
    times["generate"] = time.perf_counter() - t
    truth = orjson.loads(files.ground_truth.read_bytes())
    store = Store(work / "store.duckdb")
    t = time.perf_counter()
    ingest(store, [files.x_v2, files.x_liking_users, files.jetstream])
    times["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    det = detect(store)
    times["detect"] = time.perf_counter() - t
    ext = work / "scenario_outlets.csv"
    bsky = [s["handle"] for s in truth["state_media_accounts"] if s["platform"] == "bluesky"]
    ext.write_text(
        "outlet,company,country,typology,domains,handles,source\n"
        + "".join(f"Sputnik Japan,Rossiya Segodnya,Russia,SC,,bluesky:{h},scenario\n" for h in bsky)
    )
    t = time.perf_counter()
    res = characterize(store, coordination_run=det.run_id, state_media=[ext])
    times["characterize"] = time.perf_counter() - t

    ops = {o["id"]: o for o in truth["operations"]}
    benign = {b["id"]: b for b in truth["benign"]}
    bots = {(x["platform"], x["account_id"]) for x in ops["op_bot_network"]["accounts"]}
    amplified = {
        (p["platform"], p["post_id"])
        for oid in ("op_bot_network", "op_state_media")
        for p in ops[oid].get("amplified_posts", [])
    }
    con = store.con
    present = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT platform, post_id FROM posts WHERE NOT coalesce(is_stub, FALSE)"
        ).fetchall()
    }
    amplified_present = amplified & present
    flagged = set(res.flagged_posts)
    tp = len(flagged & amplified_present)
    prec = tp / len(flagged) if flagged else float("nan")
    rec = tp / len(amplified_present) if amplified_present else float("nan")
    breaking = {
        (p["platform"], p["post_id"])
        for p in benign["benign_breaking"]["posts"]
        if p["kind"] == "post"
    }
    idol = {
        (p["platform"], p["post_id"]) for p in benign["benign_fans"]["posts"] if p["kind"] == "post"
    }
    # the bot network's group(s): groups whose members are mostly bots
    rows = con.execute(
        "SELECT g.group_id, g.offset_hours, g.ci_low, g.ci_high, g.template, g.n_actions, "
        "list(m.platform || '|' || m.account_id) FROM group_timezone g JOIN coord_members m "
        "ON m.run_id = g.coordination_run_id AND m.group_id = g.group_id WHERE g.run_id = ? "
        "GROUP BY ALL ORDER BY g.group_id",
        [res.run_id],
    ).fetchall()
    tz_lines = []
    for gid, off, lo, hi, tpl, n, mem in rows:
        share = np.mean([tuple(x.split("|", 1)) in bots for x in mem])
        tz_lines.append((gid, len(mem), share, off, lo, hi, tpl, n))
    sc = con.execute(
        "SELECT a.platform, a.account_id, a.score FROM account_automation a WHERE run_id = ?",
        [res.run_id],
    ).fetchall()
    y = np.array([(p, q) in bots for p, q, _ in sc], dtype=int)
    s = np.array([r[2] for r in sc])
    auc = _auc(s, y) if 0 < y.sum() < len(y) else float("nan")
    flag_acc = s >= 0.5
    print(f"# bench_characterize --actions {a.actions} --seed {a.seed}")
    print("| measure | value |\n| --- | --- |")
    for gid, size, share, off, lo, hi, tpl, n in tz_lines:
        print(
            f"| group {gid} ({size} accounts, {share:.0%} bots): time zone | UTC{off:+d} "
            f"[{lo:+d}, {hi:+d}] {tpl}, {n} actions (truth UTC+3 for the bots) |"
        )
    print(f"| amplified posts found (precision) | {prec:.3f} ({tp}/{len(flagged)}) |")
    print(
        f"| amplified posts found (recall) | {rec:.3f} ({tp}/{len(amplified_present)}; "
        f"{len(amplified) - len(amplified_present)} amplified posts absent from the files) |"
    )
    print(f"| breaking-news alert flagged | {len(breaking & flagged)} of {len(breaking)} |")
    print(f"| fans' idol posts flagged | {len(idol & flagged)} of {len(idol)} |")
    print(f"| automation score ROC AUC (bots vs all other active accounts) | {auc:.3f} |")
    print(
        f"| accounts flagged by score >= 0.5 |"
        f" {int(flag_acc.sum())} ({int((flag_acc & (y == 1)).sum())} "
        f"bots of {int(y.sum())}) |"
    )
    print(f"| state-media amplifier accounts | {res.amplifier_accounts} |")
    print(f"| posts examined | {res.posts_examined} |")
    print("\n| stage | seconds |\n| --- | --- |")
    for k, v in {**times, **{f"characterize.{k}": v for k, v in res.seconds.items()}}.items():
        print(f"| {k} | {v:.1f} |")
    store.close()


if __name__ == "__main__":
    main()
