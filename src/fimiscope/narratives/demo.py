"""The narratives step of ``make demo`` (called from :mod:`fimiscope.demo`)."""

from __future__ import annotations

import sys
import time
from typing import Any

from fimiscope.store import Store


def _say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def narratives_step(store: Store, files: Any, seed: int) -> dict[str, Any]:
    """Ingest the outlet feed, find narratives and trends, match fact-checked claims, score."""
    from fimiscope.ingest import ingest
    from fimiscope.narratives import (
        claim_spread,
        detect_trends,
        get_narrative,
        list_narratives,
        load_claims,
        match_claims,
        run_narratives,
    )
    from fimiscope.narratives.evaluate import (
        load_ground_truth,
        score_claim_matches,
        score_narratives,
        trend_delay,
    )

    secs: dict[str, float] = {}
    t = time.perf_counter()
    _say("ingesting the outlet articles (RSS) and finding narratives in ja/en/ru")
    ingest(store, [files.articles_rss])
    nar = run_narratives(store, seed=seed)
    secs["narratives"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    _say("detecting bursts of narratives and hashtags")
    tr = detect_trends(store, narratives_run=nar.run_id)
    secs["trends"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    _say("loading ClaimReview fact-checks and matching posts to claims (cross-lingual)")
    loaded = load_claims(store, files.factchecks)
    m = match_claims(store)
    secs["claims"] = round(time.perf_counter() - t, 1)
    truth = load_ground_truth(files.ground_truth)
    quality = score_narratives(store, nar.run_id, truth)
    claim_n = quality["claim_narrative_id"]
    top = list_narratives(store, nar.run_id, limit=12)
    spread = claim_spread(store, run_id=m.run_id)
    prov = get_narrative(store, claim_n, nar.run_id)["provenance"] if claim_n is not None else {}
    path = prov.get("outlet_path") if prov else None
    return {
        "seconds": secs,
        "run_id": nar.run_id,
        "posts": nar.posts,
        "texts": nar.texts,
        "narratives": nar.narratives,
        "top": [
            {
                k: n[k]
                for k in (
                    "narrative_id",
                    "label",
                    "n_posts",
                    "n_reposts",
                    "languages",
                    "coordinated_share",
                    "automated_share",
                    "state_media_share",
                )
            }
            for n in top
        ],
        "trends_run_id": tr.run_id,
        "trend_flags": len(tr.flags),
        "claims_loaded": loaded["loaded"],
        "claims_run_id": m.run_id,
        "claim_matches": m.matches,
        "false_claims_spreading": [
            {
                k: s[k]
                for k in (
                    "text",
                    "verdict",
                    "rating_text",
                    "posts",
                    "reposts",
                    "accounts",
                    "first_at",
                    "hours_to_100",
                    "by_platform",
                    "by_language",
                    "coordinated_share",
                    "automated_share",
                    "first_appearances",
                )
            }
            for s in spread
        ],
        "claim_narrative_id": claim_n,
        "claim_origin": {
            "article": {k: path["article"][k] for k in ("account_id", "created_at", "url", "lang")},
            "first_japanese_post_delay_h": round(
                path["first_japanese_posts"][0]["delay_s"] / 3600, 2
            )
            if path["first_japanese_posts"]
            else None,
        }
        if path
        else None,
        "against_ground_truth": {
            "narratives": quality,
            "claim_matching": score_claim_matches(store, m.run_id, truth),
            "trend": trend_delay(store, tr.run_id, claim_n, truth),
        },
    }


def narratives_markdown(n: dict[str, Any]) -> list[str]:
    """The narratives section of ``summary.md``."""
    g = n["against_ground_truth"]
    q, cm, td = g["narratives"], g["claim_matching"], g["trend"]
    lines = [
        "## Narratives, trends and claims",
        "",
        f"{n['narratives']} narratives from {n['posts']:,} posts ({n['texts']:,} distinct "
        f"texts); against the planted narratives ARI {q['all']['ari']}, purity "
        f"{q['all']['purity']} (without everyday chatter: ARI "
        f"{q['without_organic_misc']['ari']}, purity {q['without_organic_misc']['purity']}).",
        "",
        "| id | posts | reposts | languages | coordinated | automated | state media | label |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in n["top"]:
        langs = ", ".join(f"{k} {v}" for k, v in (r["languages"] or {}).items())
        lines.append(
            f"| {r['narrative_id']} | {r['n_posts']} | {r['n_reposts']} | {langs} | "
            f"{_pct(r['coordinated_share'])} | {_pct(r['automated_share'])} | "
            f"{_pct(r['state_media_share'])} | {r['label']} |"
        )
    lines += [
        "",
        f"{n['trend_flags']} bursts flagged. The false sanctions narrative (narrative "
        f"{n['claim_narrative_id']}) was flagged at {td['flagged_at']}: "
        f"{td['hours_from_first_post']} h after its first post, "
        f"{td['hours_from_first_article']} h after the first article.",
        "",
        f"{n['claim_matches']} posts matched {n['claims_loaded']} fact-checked claims; the "
        f"sanctions claim in Japanese posts: precision {cm['ja']['precision']}, recall "
        f"{cm['ja']['recall']}.",
        "",
    ]
    for s in n["false_claims_spreading"]:
        lines.append(
            f"- [{s['rating_text'] or s['verdict']}] {s['text']}: {s['posts']} posts + "
            f"{s['reposts']} reposts by {s['accounts']} accounts from {s['first_at']}; "
            f"{_pct(s['coordinated_share'])} coordinated, {_pct(s['automated_share'])} automated."
        )
        for a in s["first_appearances"][:3]:
            # outlets are named; people's accounts stay out of the summary (no pseudonyms here)
            who = f"{a['account_id']} {a['url']}" if a["platform"] == "news" else "a post"
            lines.append(
                f"  - first seen ({a['found_by']}): {a['platform']}, {who} ({a['lang']}) at "
                f"{a['created_at']}"
            )
    o = n.get("claim_origin")
    if o:
        lines += [
            "",
            f"Narrative origin: {o['article']['account_id']} ({o['article']['lang']}) at "
            f"{o['article']['created_at']}, {o['article']['url']}; first Japanese post "
            f"{o['first_japanese_post_delay_h']} h later.",
        ]
    lines.append("")
    return lines


def narratives_lines(n: dict[str, Any]) -> list[str]:
    """What the demo prints on stdout about narratives."""
    g = n["against_ground_truth"]
    td, cm = g["trend"], g["claim_matching"]
    out = [
        f"{n['narratives']} narratives (ARI {g['narratives']['all']['ari']}, purity "
        f"{g['narratives']['all']['purity']}); {n['trend_flags']} bursts; the false sanctions "
        f"narrative flagged {td['hours_from_first_post']} h after its first post",
        f"claims: {n['claim_matches']} matching posts; sanctions claim in Japanese posts "
        f"precision {cm['ja']['precision']}, recall {cm['ja']['recall']}",
    ]
    for s in n["false_claims_spreading"]:
        out.append(
            f"  spreading [{s['rating_text'] or s['verdict']}] {s['text']}: "
            f"{s['posts']} posts + {s['reposts']} reposts, {s['accounts']} accounts"
        )
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"
