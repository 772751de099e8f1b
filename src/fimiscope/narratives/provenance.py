"""Provenance of a narrative: its earliest appearances, and the path from an outlet to Japan.

* **Earliest appearances**: the first posts of the narrative on every platform (news feeds
  included: an ingested RSS/Atom article is a post on the platform ``news``) and in every
  language.
* **Outlet path**: among the narrative's news articles that are foreign (not in Japanese) or
  from a state-controlled outlet, the one the most of the narrative followed (posts + reposts
  in the 48 hours after it; a narrative can hold an older story too); the posts that link to
  it (``post_urls``), first first; the first Japanese-language posts of the narrative after
  it; and the first reposts of those. Each step gives its delay after the article. Links are
  compared on their normalised form (``url_norm``), so tracking parameters do not hide a
  share.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fimiscope.ingest.normalise import normalise_url
from fimiscope.store import Store

_AFTER = timedelta(hours=48)
_COLS = ("platform", "post_id", "account_id", "created_at", "lang", "text", "url")


def _rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return [dict(zip(_COLS, r, strict=True)) for r in store.sql(sql, params)]


def _delay(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def narrative_provenance(
    store: Store, run_id: str, narrative_id: int, *, per_group: int = 3
) -> dict[str, Any]:
    """Earliest appearances and the outlet -> Japanese posts path of one narrative.

    Returns
    -------
    dict
        ``first_by_platform`` and ``first_by_language`` (platform/language -> up to
        ``per_group`` earliest posts), ``articles`` (the narrative's news articles, earliest
        first) and ``outlet_path`` (``None`` when the narrative has no article): ``article``,
        ``linking_posts``, ``first_japanese_posts``, ``first_reposts``, each post with
        ``delay_s`` after the article.
    """
    base = """
        SELECT p.platform, p.post_id, p.account_id, p.created_at, np.lang, p.text, p.url
        FROM narrative_posts np JOIN posts p
          ON p.platform = np.platform AND p.post_id = np.post_id
        WHERE np.run_id = ? AND np.narrative_id = ? AND p.created_at IS NOT NULL
    """
    ranked = f"""
        SELECT * EXCLUDE (rk) FROM (
          SELECT *, row_number() OVER (PARTITION BY {{col}} ORDER BY created_at, post_id) AS rk
          FROM ({base})) WHERE rk <= ? ORDER BY created_at, post_id
    """
    by_platform: dict[str, list[dict[str, Any]]] = {}
    for r in _rows(store, ranked.format(col="platform"), [run_id, narrative_id, per_group]):
        by_platform.setdefault(r["platform"], []).append(r)
    by_lang: dict[str, list[dict[str, Any]]] = {}
    for r in _rows(store, ranked.format(col="lang"), [run_id, narrative_id, per_group]):
        by_lang.setdefault(r["lang"] or "und", []).append(r)
    articles = _rows(
        store,
        base + " AND p.platform = 'news' ORDER BY p.created_at, p.post_id LIMIT 50",
        [run_id, narrative_id],
    )
    return {
        "run_id": run_id,
        "narrative_id": narrative_id,
        "first_by_platform": by_platform,
        "first_by_language": by_lang,
        "articles": articles,
        "outlet_path": _outlet_path(store, run_id, narrative_id, articles, per_group),
    }


def _following(store: Store, run_id: str, narrative_id: int, t: datetime) -> int:
    """Posts + reposts of the narrative in the 48 hours after ``t``."""
    row = store.sql(
        "SELECT coalesce(sum(posts + reposts), 0) FROM narrative_volume WHERE run_id = ? AND "
        "narrative_id = ? AND bucket >= date_trunc('hour', CAST(? AS TIMESTAMPTZ)) "
        "AND bucket < CAST(? AS TIMESTAMPTZ)",
        [run_id, narrative_id, t, t + _AFTER],
    )
    return int(row[0][0]) if row else 0


def _foreign_or_state(
    store: Store, run_id: str, narrative_id: int, articles: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The foreign-language or state-outlet article that the most of the narrative followed
    (posts + reposts in the 48 hours after it); the earlier one on a tie."""
    from fimiscope.characterize.state_media import load_registry

    reg = load_registry()
    best: tuple[int, dict[str, Any]] | None = None
    for a in articles:
        outlet = reg.match_domain(str(a["account_id"] or "")) if a["account_id"] else None
        state = bool(outlet is not None and outlet.state_controlled)
        if not (state or (a["lang"] and a["lang"] != "ja")) or a["created_at"] is None:
            continue
        n = _following(store, run_id, narrative_id, a["created_at"])
        if best is None or n > best[0]:
            best = (
                n,
                {
                    **a,
                    "state_controlled": state,
                    "outlet": outlet.outlet if outlet else None,
                    "followed_by_48h": n,
                },
            )
    return best[1] if best else None


def _outlet_path(
    store: Store, run_id: str, narrative_id: int, articles: list[dict[str, Any]], k: int
) -> dict[str, Any] | None:
    article = _foreign_or_state(store, run_id, narrative_id, articles)
    if article is None:
        return None
    t0 = article["created_at"]
    link = normalise_url(article["url"]) if article["url"] else None
    linking: list[dict[str, Any]] = []
    if link:
        linking = _rows(
            store,
            """
            SELECT DISTINCT p.platform, p.post_id, p.account_id, p.created_at, p.lang, p.text,
                   p.url
            FROM post_urls u JOIN posts p ON p.platform = u.platform AND p.post_id = u.post_id
            WHERE u.url_norm = ? AND p.platform <> 'news'
            ORDER BY p.created_at, p.post_id LIMIT ?
        """,
            [link, 10 * k],
        )
    japanese = _rows(
        store,
        """
        SELECT p.platform, p.post_id, p.account_id, p.created_at, np.lang, p.text, p.url
        FROM narrative_posts np JOIN posts p ON p.platform = np.platform AND p.post_id = np.post_id
        WHERE np.run_id = ? AND np.narrative_id = ? AND np.lang = 'ja' AND p.platform <> 'news'
          AND p.created_at >= ?
        ORDER BY p.created_at, p.post_id LIMIT ?
    """,
        [run_id, narrative_id, t0, 2 * k],
    )
    reposts: list[dict[str, Any]] = []
    if japanese:
        ph = ", ".join("(?, ?)" for _ in japanese)
        flat = [v for r in japanese for v in (r["platform"], r["post_id"])]
        reposts = _rows(
            store,
            f"""
            SELECT r.platform, r.post_id, r.account_id, r.created_at, r.lang,
                   r.ref_post_id AS text, r.url
            FROM posts r WHERE r.kind = 'repost' AND (r.platform, r.ref_post_id) IN ({ph})
            ORDER BY r.created_at, r.post_id LIMIT ?
        """,
            [*flat, 3 * k],
        )
        for r in reposts:
            r["reposts_post_id"] = r.pop("text")
    for group in (linking, japanese, reposts):
        for r in group:
            r["delay_s"] = _delay(t0, r["created_at"])
    return {
        "article": article,
        "linking_posts": linking,
        "first_japanese_posts": japanese,
        "first_reposts": reposts,
    }
