"""Narrative discovery: distinct texts -> embed -> cluster -> (cross-lingual merge) -> label.

Only original posts, quotes, replies (and ingested news articles) carry text into the
pipeline; reposts count as spread of their original. Texts are normalised
(:func:`fimiscope.narratives.text.normalise`), de-duplicated and **sorted** before they are
embedded, so the result does not depend on the order of the rows in the store.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from fimiscope.errors import ConfigError
from fimiscope.narratives.cluster import Clusterer, KMeansMerge, merge_by_centroid
from fimiscope.narratives.embed import CharNgramEmbedder, Embedder, cross_lingual_embedder
from fimiscope.narratives.keywords import ctfidf_keywords
from fimiscope.narratives.text import clean, normalise, script_language
from fimiscope.store import Store

_MIN_CHARS = 4
_REPS_PER_CLUSTER = 12


@dataclass
class NarrativesResult:
    """What :func:`run_narratives` did."""

    run_id: str
    posts: int
    texts: int
    narratives: int
    embedder: str
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "posts": self.posts,
            "texts": self.texts,
            "narratives": self.narratives,
            "embedder": self.embedder,
            "seconds": self.seconds,
        }


def _originals(store: Store, since: datetime | None, until: datetime | None) -> pa.Table:
    return store.con.sql(
        """
        SELECT p.platform, p.post_id, p.account_id, p.created_at, p.text, p.lang,
               coalesce(r.n, 0) AS reposts
        FROM posts p
        LEFT JOIN (SELECT platform, ref_post_id, count(*) AS n FROM posts
                   WHERE kind = 'repost' GROUP BY ALL) r
          ON r.platform = p.platform AND r.ref_post_id = p.post_id
        WHERE p.kind <> 'repost' AND p.text IS NOT NULL AND NOT coalesce(p.is_stub, false)
          AND (CAST(? AS TIMESTAMPTZ) IS NULL OR p.created_at >= ?)
          AND (CAST(? AS TIMESTAMPTZ) IS NULL OR p.created_at < ?)
        ORDER BY p.platform, p.post_id
        """,
        params=[since, since, until, until],
    ).to_arrow_table()


def _lang(declared: str | None, text: str) -> str:
    if declared and declared not in ("und", "zxx", "qme", "qht", "art"):
        return declared.split("-")[0].lower()
    return script_language(text)


def run_narratives(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    embedder: Embedder | None = None,
    clusterer: Clusterer | None = None,
    cross_lingual: Embedder | bool | None = True,
    cross_lingual_distance: float = 0.45,
    min_posts: int = 3,
    n_keywords: int = 10,
    seed: int = 0,
    threads: int = 1,
    by_script: bool = True,
) -> NarrativesResult:
    """Group the posts of ``store`` into narratives and write them as a ``narratives`` run.

    Parameters
    ----------
    store
        An open, writable store.
    since, until
        Only posts created in ``[since, until)`` (UTC); default: all.
    embedder
        Turns distinct normalised texts into vectors; default :class:`CharNgramEmbedder`.
    clusterer
        Labels the vectors; default :class:`KMeansMerge`.
    cross_lingual
        ``True`` (default): merge clusters whose representative texts mean the same across
        languages, using the packaged multilingual sentence encoder when it is installed;
        an :class:`Embedder` to use instead; ``False``/``None`` to skip.
    cross_lingual_distance
        Cosine distance under which the mean representative vectors of two clusters merge.
    min_posts
        Clusters with fewer posts + reposts are kept in ``narrative_posts`` but numbered after
        the others (they are listed last).
    n_keywords
        Keywords per narrative.
    seed
        Random seed (sampling, SVD, k-means).
    by_script
        Embed and cluster Japanese (kana/kanji), Cyrillic and Latin-script texts apart (each
        with its own fit), then let the cross-lingual step join them. In one shared space the
        minority languages get few dimensions and their topics blur together.
    threads
        BLAS/OpenMP threads for the numeric work. One is the default: on a shared machine,
        spinning worker threads made k-means 10x slower in trials here.

    Returns
    -------
    NarrativesResult
        ``run_id`` and counts; read the narratives with :func:`list_narratives`.

    Raises
    ------
    ConfigError
        When a parameter is out of range.
    """
    if min_posts < 1:
        raise ConfigError("min_posts", "run_narratives", "a positive integer", min_posts)
    if not 0.0 <= cross_lingual_distance <= 2.0:
        raise ConfigError(
            "cross_lingual_distance",
            "run_narratives",
            "a cosine distance in [0, 2]",
            cross_lingual_distance,
        )
    embedder = embedder or CharNgramEmbedder(seed=seed)
    clusterer = clusterer or KMeansMerge(seed=seed)
    xl: Embedder | None
    if cross_lingual is True:
        xl = cross_lingual_embedder()
    elif cross_lingual is False or cross_lingual is None:
        xl = None
    else:
        xl = cross_lingual
    params = {
        "since": since,
        "until": until,
        "embedder": embedder.name,
        "clusterer": type(clusterer).__name__,
        "cross_lingual": xl.name if xl is not None else None,
        "cross_lingual_distance": cross_lingual_distance,
        "min_posts": min_posts,
        "n_keywords": n_keywords,
        "by_script": by_script,
    }
    run_id = store.start_run("narratives", params, seed=seed, input_digest=store.source_digest())
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            result = _run(
                store,
                run_id,
                since,
                until,
                embedder,
                clusterer,
                xl,
                cross_lingual_distance,
                min_posts,
                n_keywords,
                by_script,
            )
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    store.finish_run(
        run_id,
        message=f"{result.narratives} narratives from {result.posts} posts "
        f"({result.texts} distinct texts)",
    )
    return result


def _run(
    store: Store,
    run_id: str,
    since: datetime | None,
    until: datetime | None,
    embedder: Embedder,
    clusterer: Clusterer,
    xl: Embedder | None,
    xl_distance: float,
    min_posts: int,
    n_keywords: int,
    by_script: bool,
) -> NarrativesResult:
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    tab = _originals(store, since, until)
    raw = tab.column("text").to_pylist()
    norm = [normalise(t) for t in raw]
    secs["read_normalise"] = time.perf_counter() - t0
    keep = np.array([len(s) >= _MIN_CHARS for s in norm], bool)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return NarrativesResult(run_id, 0, 0, 0, embedder.name, secs)
    texts, inverse = np.unique(np.array([norm[i] for i in idx], dtype=object), return_inverse=True)
    texts_l = texts.tolist()
    reposts = np.asarray(tab.column("reposts").to_numpy(), np.int64)[idx]
    spread = np.bincount(inverse, weights=reposts + 1, minlength=len(texts))

    labels, sim = _cluster_by_script(texts_l, embedder, clusterer, by_script, secs)

    # Representatives of each cluster: the most spread texts, tie broken by the text itself.
    t = time.perf_counter()
    nclu = int(labels.max()) + 1 if len(labels) else 0
    order = np.lexsort((np.arange(len(texts)), -spread, labels))
    reps: dict[int, list[int]] = {}
    for i in order:
        lst = reps.setdefault(int(labels[i]), [])
        if len(lst) < _REPS_PER_CLUSTER:
            lst.append(int(i))
    _, first_post = np.unique(inverse, return_index=True)  # first post of each text
    if xl is not None and nclu > 1:
        rep_ids = [i for c in range(nclu) for i in reps.get(c, [])]
        v = xl.embed([clean(raw[idx[int(first_post[i])]]) for i in rep_ids])
        cent = np.zeros((nclu, v.shape[1]), np.float64)
        pos = 0
        for c in range(nclu):
            k = len(reps.get(c, []))
            cent[c] = v[pos : pos + k].mean(axis=0) if k else 0.0
            pos += k
        # Complete linkage: two narratives merge only if every pair of their parts is close,
        # so one broad cluster cannot chain unrelated ones together.
        labels = merge_by_centroid(cent, xl_distance, linkage_method="complete")[labels]
    secs["cross_lingual"] = time.perf_counter() - t
    t = time.perf_counter()

    # Order narratives by volume (posts + reposts), then by their smallest text.
    nclu = int(labels.max()) + 1
    vol = np.bincount(labels, weights=spread, minlength=nclu)
    first_text = np.full(nclu, len(texts))
    np.minimum.at(first_text, labels, np.arange(len(texts)))
    small = vol < min_posts
    rank = np.lexsort((first_text, -vol, small))
    new_id = np.empty(nclu, np.int64)
    new_id[rank] = np.arange(nclu)
    labels = new_id[labels]

    post_label = labels[inverse]
    langs = tab.column("lang").to_pylist()
    post_lang = [_lang(langs[i], raw[i] or "") for i in idx]
    np_tab = pa.table(
        {
            "run_id": pa.array([run_id] * len(idx), pa.string()),
            "platform": tab.column("platform").take(pa.array(idx)),
            "post_id": tab.column("post_id").take(pa.array(idx)),
            "narrative_id": pa.array(post_label, pa.int32()),
            "lang": pa.array(post_lang, pa.string()),
            "similarity": pa.array(sim[inverse].astype(np.float64)),
        }
    )
    # Keywords from the raw texts of up to 400 distinct texts per narrative (the most spread).
    kw_docs: dict[int, list[tuple[str, str]]] = {}
    order = np.lexsort((np.arange(len(texts)), -spread, labels))
    for i in order:
        c = int(labels[i])
        lst = kw_docs.setdefault(c, [])
        if len(lst) < 400:
            j = int(first_post[i])
            lst.append((raw[idx[j]] or "", post_lang[j]))
    keywords = ctfidf_keywords(kw_docs, n_keywords)
    secs["label"] = time.perf_counter() - t

    t = time.perf_counter()
    con = store.con
    with store.transaction():
        con.register("_nar_posts", np_tab)
        con.execute("INSERT INTO narrative_posts SELECT * FROM _nar_posts")
        con.unregister("_nar_posts")
        rows = _narrative_rows(
            store, run_id, labels, texts_l, sim, spread, keywords, first_post, idx, tab
        )
        con.executemany(
            "INSERT INTO narratives (run_id, narrative_id, label, keywords, representatives, "
            "n_texts) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        _aggregate(store, run_id)
    secs["write"] = time.perf_counter() - t
    return NarrativesResult(
        run_id,
        len(idx),
        len(texts),
        nclu,
        embedder.name,
        {k: round(v, 3) for k, v in secs.items()},
    )


def _cluster_by_script(
    texts: list[str],
    embedder: Embedder,
    clusterer: Clusterer,
    by_script: bool,
    secs: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (distinct across scripts) and each text's cosine with its cluster's centre."""
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(script_language(text) if by_script else "all", []).append(i)
    labels = np.zeros(len(texts), np.int64)
    sim = np.zeros(len(texts), np.float32)
    offset = 0
    secs["embed"] = secs["cluster"] = 0.0
    for name in sorted(groups):
        ids = np.array(groups[name])
        # an embedder that learns from its input gets a fresh copy per script group
        emb = copy.deepcopy(embedder) if hasattr(embedder, "fit") else embedder
        t = time.perf_counter()
        x = emb.embed([texts[i] for i in ids])
        secs["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        lab = clusterer.fit_predict(x) if len(ids) > 1 else np.zeros(len(ids), np.int64)
        secs["cluster"] += time.perf_counter() - t
        k = int(lab.max()) + 1
        cent = np.zeros((k, x.shape[1]), np.float64)
        np.add.at(cent, lab, x)
        nrm = np.linalg.norm(cent, axis=1, keepdims=True)
        nrm[nrm == 0] = 1.0
        cent /= nrm
        sim[ids] = np.einsum("ij,ij->i", x, cent[lab].astype(np.float32))
        labels[ids] = lab + offset
        offset += k
    return labels, sim


def _narrative_rows(
    store: Store,
    run_id: str,
    labels: np.ndarray,
    texts: list[str],
    sim: np.ndarray,
    spread: np.ndarray,
    keywords: dict[int, list[tuple[str, float]]],
    first_post: np.ndarray,
    idx: np.ndarray,
    tab: pa.Table,
) -> list[list[Any]]:
    plat = tab.column("platform")
    pid = tab.column("post_id")
    raw = tab.column("text")
    nclu = int(labels.max()) + 1
    n_texts = np.bincount(labels, minlength=nclu)
    by: dict[int, list[int]] = {}
    # Candidates: the 50 most spread texts; representatives: the 5 of them nearest the centre.
    for i in np.lexsort((np.arange(len(texts)), -spread, labels)):
        lst = by.setdefault(int(labels[i]), [])
        if len(lst) < 50:
            lst.append(int(i))
    rows = []
    for c in range(nclu):
        cand = sorted(by.get(c, []), key=lambda i: (-float(sim[i]), texts[i]))[:5]
        reps = []
        for i in cand:
            j = int(idx[int(first_post[i])])
            reps.append(
                {
                    "platform": plat[j].as_py(),
                    "post_id": pid[j].as_py(),
                    "text": raw[j].as_py(),
                    "spread": int(spread[i]),
                }
            )
        kw = keywords.get(c, [])
        label = " / ".join(k for k, _ in kw[:4]) or (texts[cand[0]][:40] if cand else "")
        rows.append(
            [
                run_id,
                c,
                label,
                orjson.dumps([[k, round(w, 4)] for k, w in kw]).decode(),
                orjson.dumps(reps).decode(),
                int(n_texts[c]),
            ]
        )
    return rows


_SPREAD = """
CREATE OR REPLACE TEMP TABLE _nar_spread AS
SELECT np.narrative_id, p.platform, p.post_id, p.account_id, p.created_at, false AS is_repost,
       np.lang
FROM narrative_posts np JOIN posts p ON p.platform = np.platform AND p.post_id = np.post_id
WHERE np.run_id = $run
UNION ALL
SELECT np.narrative_id, r.platform, r.post_id, r.account_id, r.created_at, true, NULL
FROM narrative_posts np JOIN posts r
  ON r.platform = np.platform AND r.ref_post_id = np.post_id AND r.kind = 'repost'
WHERE np.run_id = $run
"""

_VOLUME = """
INSERT INTO narrative_volume
SELECT $run, narrative_id, date_trunc('hour', created_at) AS bucket,
       count(*) FILTER (WHERE NOT is_repost), count(*) FILTER (WHERE is_repost),
       count(DISTINCT account_id)
FROM _nar_spread WHERE created_at IS NOT NULL GROUP BY ALL
"""

_UPDATE = """
UPDATE narratives n SET
  n_posts = s.n_posts, n_reposts = s.n_reposts, n_accounts = s.n_accounts,
  first_at = s.first_at, last_at = s.last_at, languages = s.languages, platforms = s.platforms,
  coordinated_share = s.coord, automated_share = s.auto, state_media_share = s.state,
  peak_at = s.peak_at
FROM (
  SELECT a.narrative_id,
         count(*) FILTER (WHERE NOT is_repost) AS n_posts,
         count(*) FILTER (WHERE is_repost) AS n_reposts,
         count(DISTINCT a.account_id) AS n_accounts,
         min(a.created_at) FILTER (WHERE NOT is_repost) AS first_at,
         max(a.created_at) AS last_at,
         (SELECT to_json(map(list(l), list(c))) FROM (
            SELECT lang AS l, count(*) AS c FROM _nar_spread x
            WHERE x.narrative_id = a.narrative_id AND NOT x.is_repost AND lang IS NOT NULL
            GROUP BY lang ORDER BY c DESC, l)) AS languages,
         (SELECT to_json(map(list(pl), list(c))) FROM (
            SELECT platform AS pl, count(*) AS c FROM _nar_spread x
            WHERE x.narrative_id = a.narrative_id GROUP BY platform ORDER BY c DESC, pl))
            AS platforms,
         avg(CASE WHEN cm.account_id IS NULL THEN 0 ELSE 1 END) AS coord,
         avg(CASE WHEN au.account_id IS NULL THEN 0 ELSE 1 END) AS auto,
         avg(CASE WHEN sm.account_id IS NULL THEN 0 ELSE 1 END) AS state,
         (SELECT bucket FROM narrative_volume v WHERE v.run_id = $run
            AND v.narrative_id = a.narrative_id
            ORDER BY v.posts + v.reposts DESC, bucket LIMIT 1) AS peak_at
  FROM _nar_spread a
  LEFT JOIN (SELECT DISTINCT platform, account_id FROM coord_members WHERE run_id = $coord) cm
    ON cm.platform = a.platform AND cm.account_id = a.account_id
  LEFT JOIN (SELECT DISTINCT platform, account_id FROM account_automation
             WHERE run_id = $char AND flagged) au
    ON au.platform = a.platform AND au.account_id = a.account_id
  LEFT JOIN _nar_state sm ON sm.platform = a.platform AND sm.account_id = a.account_id
  GROUP BY a.narrative_id
) s
WHERE n.run_id = $run AND n.narrative_id = s.narrative_id
"""


def _state_accounts(store: Store) -> pa.Table:
    """Accounts of state-controlled outlets: registry handles, or outlet domains (news feeds)."""
    from fimiscope.characterize.state_media import load_registry

    reg = load_registry()
    plats, accts = [], []
    for platform, account_id, handle in store.sql(
        "SELECT DISTINCT platform, account_id, handle_norm FROM accounts"
    ):
        outlet = reg.match_handle(platform, handle) if handle else None
        if outlet is None and platform == "news" and "." in str(account_id):
            outlet = reg.match_domain(str(account_id))
        if outlet is not None and outlet.state_controlled:
            plats.append(platform)
            accts.append(account_id)
    return pa.table(
        {"platform": pa.array(plats, pa.string()), "account_id": pa.array(accts, pa.string())}
    )


def _aggregate(store: Store, run_id: str) -> None:
    con = store.con
    con.execute(_SPREAD, {"run": run_id})
    con.execute(_VOLUME, {"run": run_id})
    state = _state_accounts(store)
    con.register("_nar_state_a", state)
    con.execute("CREATE OR REPLACE TEMP TABLE _nar_state AS SELECT * FROM _nar_state_a")
    con.unregister("_nar_state_a")
    coord = store.latest_run("detect")
    char = store.latest_run("characterize")
    con.execute(_UPDATE, {"run": run_id, "coord": coord or "", "char": char or ""})
    con.execute("DROP TABLE IF EXISTS _nar_spread")
    con.execute("DROP TABLE IF EXISTS _nar_state")
