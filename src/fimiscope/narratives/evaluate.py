"""Scoring narratives, claim matches and trend flags against the scenario's ground truth.

* **Narratives**: over the original posts that the ground truth labels with a planted
  narrative and the run assigned, the adjusted Rand index (ARI) and purity (share of posts in
  their cluster's majority narrative), also without ``organic_misc`` (everyday chatter, which
  has no single topic and which any method splits).
* **Claim matching**: precision and recall of the posts matched to the sanctions claim
  against the ground truth's claim posts, per language; news articles (platform ``news``)
  are not posts of the ground truth and are left out.
* **Trend flag**: the narrative holding most of the claim's posts; the time from the claim's
  first post (and from the first article) to that narrative's first flag after it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from fimiscope.ingest.normalise import parse_time
from fimiscope.store import Store

CLAIM_NARRATIVE = "sanctions_claim"


def load_ground_truth(path: str | Path) -> dict[str, Any]:
    return orjson.loads(Path(path).read_bytes())


def score_narratives(store: Store, run_id: str, truth: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    label = {
        (plat, pid): name
        for name, nd in truth["narratives"].items()
        for plat, ids in nd["posts"].items()
        for pid in ids
    }
    got = store.sql(
        "SELECT platform, post_id, narrative_id FROM narrative_posts WHERE run_id = ?", [run_id]
    )
    pairs = [(label[(p, i)], n) for p, i, n in got if (p, i) in label]

    def scores(rows: list[tuple[str, int]]) -> dict[str, Any]:
        if not rows:
            return {"posts": 0, "ari": None, "purity": None}
        per: dict[int, Counter[str]] = defaultdict(Counter)
        for t, n in rows:
            per[n][t] += 1
        return {
            "posts": len(rows),
            "ari": round(adjusted_rand_score([t for t, _ in rows], [n for _, n in rows]), 4),
            "purity": round(sum(c.most_common(1)[0][1] for c in per.values()) / len(rows), 4),
            "clusters": len(per),
        }

    claim_clusters = Counter(n for t, n in pairs if t == CLAIM_NARRATIVE)
    top = claim_clusters.most_common(1)
    claim_n = top[0][0] if top else None
    in_claim = Counter(t for t, n in pairs if n == claim_n)
    return {
        "all": scores(pairs),
        "without_organic_misc": scores([r for r in pairs if r[0] != "organic_misc"]),
        "planted_narratives": len({t for t, _ in pairs}),
        "claim_narrative_id": claim_n,
        "claim_posts_in_it": top[0][1] if top else 0,
        "claim_posts_total": sum(claim_clusters.values()),
        "claim_narrative_purity": round(in_claim[CLAIM_NARRATIVE] / sum(in_claim.values()), 4)
        if in_claim
        else None,
    }


def score_claim_matches(
    store: Store, run_id: str, truth: dict[str, Any], threshold: float | None = None
) -> dict[str, Any]:
    claim = truth["claims"][0]
    positives = {(p["platform"], p["post_id"]) for c in truth["claims"] for p in c["posts"]}
    row = store.sql(
        "SELECT claim_id FROM claims WHERE text LIKE '%対露制裁%' ORDER BY claim_id LIMIT 1"
    )
    if not row:
        return {"error": "the sanctions claim is not loaded"}
    cid = row[0][0]
    posts = dict(
        ((p, i), lang)
        for p, i, lang in store.sql(
            "SELECT platform, post_id, coalesce(lang, 'und') FROM posts WHERE kind <> 'repost'"
        )
    )
    matches = store.sql(
        "SELECT platform, post_id, lang, score FROM claim_matches WHERE run_id = ? "
        "AND claim_id = ? AND platform <> 'news'",
        [run_id, cid],
    )
    thr = threshold if threshold is not None else -1.0
    out: dict[str, Any] = {"claim": claim["text_ja"], "claim_id": cid}
    for lang in ("ja", "en", "ru", "all"):
        got = {(p, i) for p, i, lg, s in matches if s >= thr and (lang == "all" or lg == lang)}
        pos = {k for k in positives if lang == "all" or posts.get(k) == lang}
        tp = len(got & pos)
        out[lang] = {
            "matched": len(got),
            "true_positives": tp,
            "precision": round(tp / len(got), 4) if got else None,
            "recall": round(tp / len(pos), 4) if pos else None,
            "claim_posts": len(pos),
        }
    return out


def trend_delay(
    store: Store, trends_run: str, narrative_id: int | None, truth: dict[str, Any]
) -> dict[str, Any]:
    claim = truth["claims"][0]
    start = parse_time(claim["started_at"])
    ids = [(p["platform"], p["post_id"]) for p in claim["posts"]]
    first_post: datetime | None = None
    if ids:
        ph = ", ".join("(?, ?)" for _ in ids)
        row = store.sql(
            f"SELECT min(created_at) FROM posts WHERE (platform, post_id) IN ({ph})",
            [v for k in ids for v in k],
        )
        first_post = row[0][0] if row else None
    flag = None
    if narrative_id is not None and start is not None:
        rows = store.sql(
            "SELECT flagged_at, count, expected FROM trends WHERE run_id = ? AND kind = "
            "'narrative' AND narrative_id = ? AND flagged_at >= ? ORDER BY flagged_at LIMIT 1",
            [trends_run, narrative_id, start],
        )
        flag = rows[0] if rows else None
    return {
        "first_article_at": start.isoformat() if start else None,
        "first_post_at": first_post.isoformat() if first_post else None,
        "flagged_at": flag[0].isoformat() if flag else None,
        "window_count": flag[1] if flag else None,
        "expected": flag[2] if flag else None,
        "hours_from_first_post": round((flag[0] - first_post).total_seconds() / 3600, 2)
        if flag and first_post
        else None,
        "hours_from_first_article": round((flag[0] - start).total_seconds() / 3600, 2)
        if flag and start
        else None,
    }
