"""The whole analysis on the bundled election scenario (what ``make demo`` runs).

Generates the scenario, ingests it, runs every analysis stage this version has, compares
the findings with the ground truth, and writes a summary. Progress goes to stderr; the last
lines on stdout say where the outputs are.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson


def _say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def run(out: Path, actions: int, seed: int) -> dict[str, Any]:
    from fimiscope.characterize import characterize
    from fimiscope.coordination import detect
    from fimiscope.coordination.export import export_run
    from fimiscope.ingest import ingest
    from fimiscope.report.pseudonymise import Pseudonymiser
    from fimiscope.simulate import generate_scenario
    from fimiscope.simulate.evaluate import load_truth, score_groups
    from fimiscope.store import Store

    out.mkdir(parents=True, exist_ok=True)
    db = out / "store.duckdb"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    summary: dict[str, Any] = {"actions": actions, "seed": seed, "seconds": {}}
    t = time.perf_counter()
    _say(f"simulating the election scenario ({actions:,} actions, seed {seed})")
    files = generate_scenario(out / "scenario", actions=actions, seed=seed)
    summary["seconds"]["simulate"] = round(time.perf_counter() - t, 1)
    with Store(db) as store:
        t = time.perf_counter()
        _say("ingesting X API v2 pages, X liking-users pages and Bluesky Jetstream events")
        infos = ingest(store, [files.x_v2, files.x_liking_users, files.jetstream])
        summary["ingest"] = [{k: v for k, v in i.as_dict().items() if k != "sha256"} for i in infos]
        summary["seconds"]["ingest"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        _say("detecting coordination (traces, co-action pairs, null model, Leiden groups)")
        result = detect(store, seed=seed)
        summary["seconds"]["detect"] = round(time.perf_counter() - t, 1)
        truth = load_truth(files.ground_truth)
        groups = [{(g.platform, m) for m in g.members} for g in result.groups]
        summary["detect"] = {
            "run_id": result.run_id,
            "window_s": result.window,
            "edges": result.edges,
            "candidate_pairs": result.candidate_pairs,
            "tested_pairs": result.tested_pairs,
            "per_edge_alpha": result.alpha,
            "groups": [
                {
                    "group_id": g.group_id,
                    "platform": g.platform,
                    "size": g.size,
                    "traces": list(g.traces),
                    "summary": g.summary,
                    "ground_truth": _label(set(groups[i]), truth),
                }
                for i, g in enumerate(result.groups)
            ],
            "score_against_ground_truth": score_groups(groups, truth),
        }
        t = time.perf_counter()
        _say("characterising: automation, activity time zones, state media, boosted posts")
        ch = characterize(store, coordination_run=result.run_id, seed=seed)
        summary["seconds"]["characterize"] = round(time.perf_counter() - t, 1)
        summary["characterize"] = {
            "run_id": ch.run_id,
            "accounts": ch.accounts,
            "flagged_accounts": ch.flagged_accounts,
            "automation_method": ch.automation_method,
            "state_media_amplifiers": ch.amplifier_accounts,
            "posts_examined": ch.posts_examined,
            "flagged_posts": len(ch.flagged_posts),
            "group_timezones": {
                gid: {
                    k: tz[k]
                    for k in (
                        "offset_hours",
                        "ci_low",
                        "ci_high",
                        "template",
                        "foreign_working_day",
                    )
                }
                for gid, tz in ch.group_timezones.items()
            },
            "boosted_posts_against_ground_truth": _score_posts(
                ch.flagged_posts, files.ground_truth
            ),
        }
        t = time.perf_counter()
        from fimiscope.narratives.demo import narratives_step

        summary["narratives"] = narratives_step(store, files, seed)
        summary["seconds"]["narratives"] = round(time.perf_counter() - t, 1)
        exported = export_run(
            store,
            result.run_id,
            out / "coordination",
            pseudonymiser=Pseudonymiser.from_key_file(out / "pseudonym.key"),
        )
        summary["outputs"] = {
            "store": str(db),
            "scenario": str(files.ground_truth.parent),
            "coordination_exports": [str(p) for p in exported],
        }
        summary["outputs"].update(_report_step(store, result.run_id, out, summary))
    (out / "summary.json").write_bytes(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    (out / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    return summary


def _report_step(store: Any, run_id: str, out: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Review, report, STIX bundle and X notice. No human reviews the demo: every group is
    confirmed by the analyst "demo" with a reason that says so, and the review trail in the
    report shows it."""
    from fimiscope import review
    from fimiscope.report import write_notice, write_report, write_stix

    t = time.perf_counter()
    _say("reporting: auto-confirming the groups as analyst 'demo', HTML report, STIX, notice")
    for g in summary["detect"]["groups"]:
        review.record(
            store, subject_kind="group", subject_id=g["group_id"], decision="confirm",
            reason="demo run: confirmed automatically for illustration; no human reviewed it",
            analyst="demo", run_id=run_id,
        )  # fmt: skip
    key = out / "pseudonym.key"
    reports = out / "report"
    paths = {
        "report": write_report(store, reports / "report.html", run_id=run_id, key_path=key,
                               actor="demo"),
        "stix": write_stix(store, reports / "bundle.stix.json", run_id=run_id, key_path=key,
                           actor="demo"),
        "notice": write_notice(store, reports / "notice-x.json", platform="x", run_id=run_id,
                               key_path=key, actor="demo"),
    }  # fmt: skip
    summary["seconds"]["report"] = round(time.perf_counter() - t, 1)
    return {k: str(v) for k, v in paths.items()}


def _score_posts(flagged: list[tuple[str, str]], truth_path: Path) -> dict[str, Any]:
    truth = orjson.loads(truth_path.read_bytes())
    amplified = {
        (p["platform"], p["post_id"])
        for o in truth["operations"]
        for p in o.get("amplified_posts", ())
    }
    got = set(flagged)
    hit = len(got & amplified)
    return {
        "flagged": len(got),
        "amplified_in_truth": len(amplified),
        "precision": hit / len(got) if got else 1.0,
        "recall": hit / len(amplified) if amplified else 1.0,
    }


def _label(members: set[tuple[str, str]], truth: Any) -> str:
    best = ("organic", 0)
    for (op, _platform), accts in truth.operations.items():
        n = len(members & accts)
        if n > best[1]:
            best = (f"operation {op}", n)
    for name, accts in truth.benign.items():
        n = len(members & accts)
        if n > best[1]:
            best = (f"benign {name}", n)
    return f"{best[0]} ({best[1]}/{len(members)} members)"


def _markdown(s: dict[str, Any]) -> str:
    d = s["detect"]
    sc = d["score_against_ground_truth"]
    lines = [
        "# fimiscope demo: Japan 2025 upper-house election scenario",
        "",
        f"{s['actions']:,} simulated actions (seed {s['seed']}); stage seconds: {s['seconds']}.",
        "",
        "## Coordination",
        "",
        f"Window {d['window_s']:g} s; {d['edges']:,} significant edges among "
        f"{d['candidate_pairs']:,} candidate pairs; per-edge p-value threshold "
        f"{d['per_edge_alpha']:.2g} (one expected chance edge over {d['tested_pairs']:,.0f} "
        "tested pairs).",
        "",
        "| group | platform | accounts | traces | ground truth |",
        "| ---: | --- | ---: | --- | --- |",
    ]
    for g in d["groups"]:
        lines.append(
            f"| {g['group_id']} | {g['platform']} | {g['size']} | "
            f"{', '.join(g['traces'])} | {g['ground_truth']} |"
        )
    lines += [
        "",
        f"Group precision {sc['group_precision']:.2f}, recall {sc['group_recall']:.2f}; "
        f"account precision {sc['account_precision']:.2f}, recall "
        f"{sc['account_recall']:.2f}; benign look-alikes flagged: "
        f"{sc['benign_groups_flagged'] or 'none'}.",
        "",
    ]
    for g in d["groups"]:
        lines += [f"### Group {g['group_id']}", "", g["summary"] or "(no summary)", ""]
    c = s.get("characterize")
    if c:
        bp = c["boosted_posts_against_ground_truth"]
        lines += [
            "## Characterisation",
            "",
            f"{c['flagged_accounts']:,} of {c['accounts']:,} accounts flagged as likely "
            f"automated ({c['automation_method']}); {c['state_media_amplifiers']:,} "
            "accounts amplify state-controlled outlets.",
            "",
            f"Boosted posts: {c['flagged_posts']:,} of {c['posts_examined']:,} flagged; "
            f"against the ground truth precision {bp['precision']:.2f}, recall "
            f"{bp['recall']:.2f}.",
            "",
            "| group | activity clock | interval | rhythm | foreign working day |",
            "| ---: | --- | --- | --- | --- |",
        ]
        for gid, tz in c["group_timezones"].items():
            lines.append(
                f"| {gid} | UTC{tz['offset_hours']:+d} | [{tz['ci_low']:+d}, "
                f"{tz['ci_high']:+d}] | {tz['template']} | {tz['foreign_working_day']} |"
            )
        lines.append("")
    if s.get("narratives"):
        from fimiscope.narratives.demo import narratives_markdown

        lines += narratives_markdown(s["narratives"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fimiscope.demo", description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("demo-output"))
    ap.add_argument("--actions", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    summary = run(args.out, args.actions, args.seed)
    db = summary["outputs"]["store"]
    d = summary["detect"]
    sc = d["score_against_ground_truth"]
    print(
        f"{len(d['groups'])} coordinated groups found; against the ground truth: group "
        f"precision {sc['group_precision']:.2f}, recall {sc['group_recall']:.2f}, benign "
        f"look-alikes flagged: {sc['benign_groups_flagged'] or 'none'}"
    )
    for g in d["groups"]:
        print(
            f"  group {g['group_id']} [{g['platform']}] {g['size']} accounts "
            f"({', '.join(g['traces'])}): {g['ground_truth']}"
        )
    c = summary["characterize"]
    bp = c["boosted_posts_against_ground_truth"]
    for gid, tz in c["group_timezones"].items():
        print(
            f"  group {gid} activity clock: UTC{tz['offset_hours']:+d} "
            f"[{tz['ci_low']:+d}, {tz['ci_high']:+d}]"
        )
    print(
        f"boosted posts flagged: {c['flagged_posts']} (precision {bp['precision']:.2f}, "
        f"recall {bp['recall']:.2f} against the ground truth)"
    )
    if summary.get("narratives"):
        from fimiscope.narratives.demo import narratives_lines

        print("\n".join(narratives_lines(summary["narratives"])))
    print(f"summary: {args.out / 'summary.md'}")
    print(f"store:   {db}  (try: .venv/bin/fimiscope info -s {db})")
    print(f"graphs:  {args.out / 'coordination'} (GEXF/GraphML for Gephi, pseudonymised)")
    if "report" in summary["outputs"]:
        print(f"report:  {summary['outputs']['report']} (groups auto-confirmed by analyst 'demo')")
        print(f"stix:    {summary['outputs']['stix']}")
        print(f"notice:  {summary['outputs']['notice']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
