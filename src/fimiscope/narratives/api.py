"""Read-side API: what the CLI, the dashboard, the live monitor and reports call.

Every function takes an open :class:`~fimiscope.store.Store` and returns plain dicts and lists
(times as ISO 8601 strings in UTC, JSON columns parsed), so the result can be serialised as it
is. ``run_id=None`` means the latest successful run of the stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.store import Store

_JSON_COLS = frozenset({"keywords", "languages", "platforms", "representatives", "appearances"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _records(store: Store, sql: str, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        rec = {}
        for k, v in zip(names, row, strict=True):
            if k in _JSON_COLS and isinstance(v, str):
                v = orjson.loads(v)
            rec[k] = _plain(v)
        out.append(rec)
    return out


def _page(limit: int, offset: int, owner: str) -> None:
    if not (isinstance(limit, int) and 0 < limit <= 10_000):
        raise ConfigError("limit", owner, "an integer in [1, 10000]", limit)
    if not (isinstance(offset, int) and offset >= 0):
        raise ConfigError("offset", owner, "a non-negative integer", offset)


def _run(store: Store, run_id: str | None, stage: str) -> str | None:
    if run_id is None:
        return store.latest_run(stage)
    row = first_row(store.con.execute("SELECT stage FROM runs WHERE run_id = ?", [run_id]))
    if row is None or row[0] != stage:
        raise NotFoundError(f"no {stage} run {run_id!r}")
    return run_id


_SUMMARY = (
    "run_id, narrative_id, label, keywords, languages, platforms, n_texts, n_posts, n_reposts, "
    "n_accounts, first_at, last_at, peak_at, coordinated_share, automated_share, "
    "state_media_share, representatives"
)


def list_narratives(
    store: Store, run_id: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Narratives of a run, largest (posts + reposts) first; ``[]`` when there is no run."""
    _page(limit, offset, "list_narratives")
    run = _run(store, run_id, "narratives")
    if run is None:
        return []
    return _records(
        store,
        f"SELECT {_SUMMARY} FROM narratives WHERE run_id = ? ORDER BY narrative_id "
        "LIMIT ? OFFSET ?",
        [run, limit, offset],
    )


def get_narrative(store: Store, narrative_id: int, run_id: str | None = None) -> dict[str, Any]:
    """Everything about one narrative.

    Returns the summary of :func:`list_narratives` plus ``volume`` (hourly ``bucket``,
    ``posts``, ``reposts``, ``accounts``), ``trends`` (its bursts in the latest trends run over
    this narratives run), ``claims`` (claims matched by its posts in the latest claims run, with
    counts and best score) and ``provenance`` (see
    :func:`fimiscope.narratives.provenance.narrative_provenance`).

    Raises
    ------
    NotFoundError
        When the run or the narrative does not exist.
    """
    from fimiscope.narratives.provenance import narrative_provenance

    run = _run(store, run_id, "narratives")
    if run is None:
        raise NotFoundError("no narratives run in this store; run `fimiscope narratives run`")
    rows = _records(
        store,
        f"SELECT {_SUMMARY} FROM narratives WHERE run_id = ? AND narrative_id = ?",
        [run, int(narrative_id)],
    )
    if not rows:
        raise NotFoundError(f"no narrative {narrative_id} in run {run!r}")
    out = rows[0]
    out["volume"] = _records(
        store,
        "SELECT bucket, posts, reposts, accounts FROM narrative_volume WHERE run_id = ? "
        "AND narrative_id = ? ORDER BY bucket",
        [run, int(narrative_id)],
    )
    out["trends"] = _records(
        store,
        "SELECT t.run_id, flagged_at, window_start, count, expected, p_value, delay_s, "
        "episode_end, peak_count FROM trends t WHERE t.kind = 'narrative' "
        "AND t.narratives_run_id = ? AND t.narrative_id = ? AND t.run_id = (SELECT run_id FROM "
        "runs WHERE stage = 'trends' AND status = 'ok' AND parameters->>'narratives_run' = ? "
        "ORDER BY finished_at DESC LIMIT 1) ORDER BY flagged_at",
        [run, int(narrative_id), run],
    )
    claims_run = store.latest_run("claims")
    out["claims"] = (
        _records(
            store,
            "SELECT c.claim_id, c.text, c.verdict, c.is_false, c.rating_text, count(*) AS posts, "
            "sum(m.reposts) AS reposts, max(m.score) AS best_score FROM claim_matches m "
            "JOIN claims c USING (claim_id) WHERE m.run_id = ? AND m.narrative_id = ? GROUP BY ALL "
            "ORDER BY posts DESC, c.claim_id",
            [claims_run or "", int(narrative_id)],
        )
        if claims_run and _same_narratives(store, claims_run, run)
        else []
    )
    out["provenance"] = _plain(narrative_provenance(store, run, int(narrative_id)))
    return out


def _same_narratives(store: Store, claims_run: str, narratives_run: str) -> bool:
    return store.run(claims_run)["parameters"].get("narratives_run") == narratives_run


def list_trends(
    store: Store, run_id: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Bursts of a trends run, earliest flag first; ``[]`` when there is no run."""
    _page(limit, offset, "list_trends")
    run = _run(store, run_id, "trends")
    if run is None:
        return []
    return _records(
        store,
        "SELECT run_id, kind, key, narratives_run_id, narrative_id, label, flagged_at, "
        "window_start, count, expected, p_value, first_seen_at, delay_s, episode_end, "
        "peak_count FROM trends WHERE run_id = ? ORDER BY flagged_at, kind, key LIMIT ? OFFSET ?",
        [run, limit, offset],
    )


def list_claims(store: Store, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Loaded claims, known-false first, then by review date (newest first)."""
    _page(limit, offset, "list_claims")
    return _records(
        store,
        "SELECT claim_id, text, lang, verdict, is_false, rating_text, rating_value, "
        "best_rating, worst_rating, reviewer, review_url, review_date, claimant, claim_date, "
        "appearances FROM claims ORDER BY is_false DESC, review_date DESC NULLS LAST, claim_id "
        "LIMIT ? OFFSET ?",
        [limit, offset],
    )


def list_claim_matches(
    store: Store,
    claim_id: str | None = None,
    post_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    *,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Matches of a claims run (filtered by claim and/or post), best score first."""
    _page(limit, offset, "list_claim_matches")
    run = _run(store, run_id, "claims")
    if run is None:
        return []
    return _records(
        store,
        "SELECT m.run_id, m.claim_id, c.text AS claim_text, c.verdict, c.is_false, m.platform, "
        "m.post_id, m.account_id, m.created_at, m.lang, m.score, m.reposts, m.narrative_id, "
        "p.text AS post_text FROM claim_matches m JOIN claims c USING (claim_id) "
        "LEFT JOIN posts p ON p.platform = m.platform AND p.post_id = m.post_id "
        "WHERE m.run_id = $run AND ($claim IS NULL OR m.claim_id = $claim) "
        "AND ($post IS NULL OR m.post_id = $post) "
        "ORDER BY m.score DESC, m.created_at, m.platform, m.post_id LIMIT $limit OFFSET $offset",
        {"run": run, "claim": claim_id, "post": post_id, "limit": limit, "offset": offset},
    )


def _first_appearances(
    store: Store, urls: list[str], args: dict[str, Any], k: int = 5
) -> list[dict[str, Any]]:
    """Where a claim first showed up: articles or posts at its ClaimReview appearance URLs,
    then its earliest matched posts; earliest first, each with where it was found."""
    from fimiscope.ingest.normalise import normalise_url

    norms = sorted({u for u in (normalise_url(x) for x in urls) if u})
    rows: list[dict[str, Any]] = []
    if norms:
        ph = ", ".join("?" for _ in norms)
        rows += _records(
            store,
            "SELECT DISTINCT 'appearance' AS found_by, p.platform, p.post_id, p.account_id, "
            "p.created_at, p.lang, p.url FROM posts p LEFT JOIN post_urls u "
            "ON u.platform = p.platform AND u.post_id = p.post_id "
            f"WHERE u.url_norm IN ({ph}) ORDER BY p.created_at, p.post_id LIMIT ?",
            [*norms, k],
        )
    rows += _records(
        store,
        "SELECT 'match' AS found_by, m.platform, m.post_id, m.account_id, m.created_at, m.lang, "
        "p.url FROM claim_matches m LEFT JOIN posts p USING (platform, post_id) "
        "WHERE m.run_id = $run AND m.claim_id = $claim ORDER BY m.created_at, m.post_id "
        "LIMIT $k",
        {**args, "k": k},
    )
    seen: set[tuple[str, str]] = set()
    out = []
    for r in sorted(rows, key=lambda r: (r["created_at"] or "", r["post_id"])):
        if (r["platform"], r["post_id"]) not in seen:
            seen.add((r["platform"], r["post_id"]))
            out.append(r)
    return out[:k]


_SPREAD = """
WITH m AS (SELECT * FROM claim_matches WHERE run_id = $run AND claim_id = $claim),
s AS (
  SELECT m.platform, m.post_id, m.account_id, m.created_at, m.lang, false AS is_repost FROM m
  UNION ALL
  SELECT r.platform, r.post_id, r.account_id, r.created_at, m.lang, true FROM m
  JOIN posts r ON r.platform = m.platform AND r.ref_post_id = m.post_id AND r.kind = 'repost'
)
SELECT * FROM s
"""


def claim_spread(
    store: Store,
    claim_id: str | None = None,
    *,
    run_id: str | None = None,
    only_false: bool = True,
    top: int = 10,
) -> list[dict[str, Any]]:
    """How matched claims spread: where, how fast, by whom.

    For each claim of the claims run (only known-false ones unless ``only_false`` is off)
    with at least one match: posts and reposts, accounts, first and last time, posts per
    platform and language, hours from the first post to 10 and 100 posts + reposts, the
    busiest hour, the top ``top`` accounts by posts + reposts, and the shares of posts +
    reposts by coordinated groups (latest detect run) and automation-flagged accounts (latest
    characterize run), and ``first_appearances``: the earliest articles or posts at the
    ClaimReview's appearance URLs and the earliest matched posts. Account ids are returned
    raw: pseudonymise before export.
    """
    run = _run(store, run_id, "claims")
    if run is None:
        return []
    claims = _records(
        store,
        "SELECT claim_id, text, verdict, is_false, rating_text, review_url, reviewer, "
        "appearances FROM claims WHERE ($c IS NULL OR claim_id = $c) AND (NOT $f OR is_false) "
        "ORDER BY claim_id",
        {"c": claim_id, "f": only_false},
    )
    coord = store.latest_run("detect") or ""
    char = store.latest_run("characterize") or ""
    out = []
    for c in claims:
        args = {"run": run, "claim": c["claim_id"]}
        total = first_row(
            store.con.execute(
                f"SELECT count(*) FILTER (WHERE NOT is_repost), count(*) FILTER (WHERE is_repost), "
                f"count(DISTINCT account_id), min(created_at), max(created_at) FROM ({_SPREAD})",
                args,
            )
        )
        if not total or not total[0]:
            continue
        times = [
            r[0]
            for r in store.sql(
                f"SELECT created_at FROM ({_SPREAD}) WHERE created_at IS NOT NULL "
                "ORDER BY created_at",
                args,
            )
        ]
        first = times[0] if times else None

        def hours_to(
            n: int, times: list[datetime] = times, first: datetime | None = first
        ) -> float | None:
            if first is None or len(times) < n:
                return None
            return round((times[n - 1] - first).total_seconds() / 3600, 2)

        peak = first_row(
            store.con.execute(
                f"SELECT date_trunc('hour', created_at) AS h, count(*) AS n FROM ({_SPREAD}) "
                "WHERE created_at IS NOT NULL GROUP BY h ORDER BY n DESC, h LIMIT 1",
                args,
            )
        )
        shares = first_row(
            store.con.execute(
                f"""SELECT avg(CASE WHEN cm.account_id IS NULL THEN 0 ELSE 1 END),
                       avg(CASE WHEN au.account_id IS NULL THEN 0 ELSE 1 END)
                FROM ({_SPREAD}) s
                LEFT JOIN (SELECT DISTINCT platform, account_id FROM coord_members
                           WHERE run_id = $coord) cm
                  ON cm.platform = s.platform AND cm.account_id = s.account_id
                LEFT JOIN (SELECT DISTINCT platform, account_id FROM account_automation
                           WHERE run_id = $char AND flagged) au
                  ON au.platform = s.platform AND au.account_id = s.account_id""",
                {**args, "coord": coord, "char": char},
            )
        )
        out.append(
            {
                **c,
                "claims_run_id": run,
                "posts": int(total[0]),
                "reposts": int(total[1]),
                "accounts": int(total[2]),
                "first_at": _plain(total[3]),
                "last_at": _plain(total[4]),
                "hours_to_10": hours_to(10),
                "hours_to_100": hours_to(100),
                "peak_hour": _plain(peak[0]) if peak else None,
                "peak_hour_count": int(peak[1]) if peak else 0,
                "by_platform": dict(
                    store.sql(
                        f"SELECT platform, count(*) FROM ({_SPREAD}) GROUP BY 1 ORDER BY 2 DESC, 1",
                        args,
                    )
                ),
                "by_language": dict(
                    store.sql(
                        f"SELECT coalesce(lang, 'und'), count(*) FROM ({_SPREAD}) "
                        "WHERE NOT is_repost "
                        "GROUP BY 1 ORDER BY 2 DESC, 1",
                        args,
                    )
                ),
                "top_accounts": [
                    {"platform": p, "account_id": a, "posts": int(n), "reposts": int(r)}
                    for p, a, n, r in store.sql(
                        f"SELECT platform, account_id, count(*) FILTER (WHERE NOT is_repost), "
                        f"count(*) FILTER (WHERE is_repost) FROM ({_SPREAD}) "
                        "WHERE account_id IS NOT NULL GROUP BY 1, 2 "
                        "ORDER BY count(*) DESC, 1, 2 LIMIT $top",
                        {**args, "top": top},
                    )
                ],
                "first_appearances": _first_appearances(store, c.pop("appearances") or [], args),
                "coordinated_share": shares[0] if shares else None,
                "automated_share": shares[1] if shares else None,
            }
        )
    return out
