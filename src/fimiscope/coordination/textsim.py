"""Co-text traces: exact normalised text and near-duplicate clusters.

Text is cleaned in Python (DuckDB has no NFKC and its ``\\w`` is ASCII-only): the store's
``text_norm`` (NFKC, lower case) minus URLs, @mentions, a leading ``RT @x:``, emoji and
punctuation, whitespace collapsed. Texts shorter than :data:`MIN_CHARS` characters after
cleaning are empty targets (they would match by chance: "ok", "lol", "草").

Near-duplicates: MinHash signatures (``rensa``) over character 3-grams, so Japanese and
Chinese need no tokenizer and an added emoji or a changed word does not hide a copy; LSH
proposes candidate pairs, each verified with ``rapidfuzz`` (normalised Indel similarity
>= :data:`NEAR_RATIO`); a cluster is a connected component of verified pairs (union-find) and
its id is the smallest exact-text hash in it. Only original posts (posts, quotes, replies) count.

References
----------
.. [1] Broder, A. Z. (1997). On the resemblance and containment of documents.
.. [2] VIGINUM (2023). D3lta: near-duplicate detection of textual content.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["MIN_CHARS", "NEAR_RATIO", "TEXT_TRACES", "clean_text", "near_duplicate_clusters"]

MIN_CHARS = 12
NEAR_RATIO = 90.0
SHINGLE = 3
NUM_PERM = 64
LSH_THRESHOLD = 0.6

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[\w.\-]+")
_RT = re.compile(r"^rt\s+@[\w.\-]+:?\s*")
# Keep letters and digits of every script (Python's \w is Unicode-aware); drop the rest.
_NONWORD = re.compile(r"[\W_]+")


def clean_text(text_norm: str | None) -> str | None:
    """The comparable core of a post's text, or None when too short to mean anything.

    >>> clean_text("rt @bot1: 物価が高すぎる！ https://t.co/x @pm 😡")
    '物価が高すぎる'
    >>> clean_text("ok https://x.y") is None
    True
    """
    if not text_norm:
        return None
    t = _RT.sub("", text_norm)
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = _NONWORD.sub(" ", t).strip()
    t = " ".join(t.split())
    # length in characters without spaces: 7 Japanese characters carry as much as a sentence
    core = t.replace(" ", "")
    min_len = MIN_CHARS if core.isascii() else max(6, MIN_CHARS // 2)
    return t if len(core) >= min_len else None


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def near_duplicate_clusters(
    texts: list[str], *, ratio: float = NEAR_RATIO, seed: int = 0
) -> np.ndarray:
    """Cluster label (index of the smallest member) of each distinct text.

    >>> near_duplicate_clusters(["vote for the future of japan now",
    ...                          "vote for the future of japan now!!", "something else entirely"])
    array([0, 0, 2])
    """
    import rensa
    from rapidfuzz.distance import Indel

    n = len(texts)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    if n < 2:
        return parent
    shingles = [[t[i : i + SHINGLE] for i in range(max(1, len(t) - SHINGLE + 1))] for t in texts]
    hashes = rensa.RMinHash.from_token_sets(shingles, num_perm=NUM_PERM, seed=seed)
    lsh = rensa.RMinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM, num_bands=16)
    lsh.insert_many(hashes, 0)
    for i, cands in enumerate(lsh.query_all(hashes)):
        for j in cands:
            if j <= i:
                continue
            ri, rj = find(i), find(int(j))
            if ri != rj and Indel.normalized_similarity(texts[i], texts[j]) * 100 >= ratio:
                parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])


@dataclass(frozen=True)
class TextTrace:
    """Co-text: ``exact`` (same cleaned text) or ``near`` (same near-duplicate cluster)."""

    name: str
    description: str
    near: bool
    origin: str = "created"
    untimed_name: str | None = None

    def build(self, con: duckdb.DuckDBPyConnection) -> str:
        table = "_fs_text_targets"
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()[0]
        if not exists or not exists[0]:
            _build_text_targets(con, table)
        col = "near_target" if self.near else "exact_target"
        return (
            f"SELECT platform, account_id, '{self.name}' AS trace, {col} AS target, \"at\", "
            f"post_id, CAST(NULL AS TIMESTAMPTZ) AS t0 FROM {table}"
        )


def _build_text_targets(con: duckdb.DuckDBPyConnection, table: str) -> None:
    rows = con.sql(
        'SELECT platform, account_id, post_id, created_at AS "at", text_norm FROM posts '
        "WHERE kind <> 'repost' AND text_norm IS NOT NULL AND account_id IS NOT NULL"
    ).to_arrow_table()
    cleaned = [clean_text(t) for t in rows.column("text_norm").to_pylist()]
    exact = [_digest(t) if t else None for t in cleaned]
    distinct = sorted({t for t in cleaned if t})
    labels = near_duplicate_clusters(distinct)
    cluster_of = {
        t: "n:" + _digest(distinct[int(lab)]) for t, lab in zip(distinct, labels, strict=True)
    }
    near = [cluster_of[t] if t else None for t in cleaned]
    arrow = pa.table(
        {
            "platform": rows.column("platform"),
            "account_id": rows.column("account_id"),
            "post_id": rows.column("post_id"),
            "at": rows.column("at"),
            "exact_target": pa.array(exact, pa.string()),
            "near_target": pa.array(near, pa.string()),
        }
    )
    con.register("_fs_text_arrow", arrow)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _fs_text_arrow")
    finally:
        con.unregister("_fs_text_arrow")


TEXT_TRACES = (
    TextTrace("text", "Accounts that posted the same cleaned text (exact copy-paste).", False),
    TextTrace(
        "text_near",
        "Accounts that posted near-duplicate texts (MinHash/LSH over character 3-grams, "
        "verified by edit similarity).",
        True,
    ),
)
