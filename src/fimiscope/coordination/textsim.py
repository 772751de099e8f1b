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
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

__all__ = [
    "MIN_CHARS",
    "NEAR_RATIO",
    "TEXT_TRACES",
    "clean_text",
    "clean_text_sql",
    "near_duplicate_clusters",
]

MIN_CHARS = 12
NEAR_RATIO = 90.0
SHINGLE = 3
NUM_PERM = 64
BANDS = 16
ROWS = 4
MAX_BUCKET = 100
VERIFY_BATCH = 1_000_000
HIST_BINS = 16

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


def _signatures(texts: list[str], seed: int) -> np.ndarray:
    """MinHash signatures (``len(texts)`` x :data:`NUM_PERM`, uint32) over character 3-grams.

    A 3-gram is packed losslessly into one 64-bit integer (three 21-bit code points), mixed
    (splitmix64 finaliser) and handed to rensa's bulk digest in one flat buffer. Texts shorter
    than 3 characters are padded with NUL, so they are one 3-gram.
    """
    import rensa

    padded = [t if len(t) >= SHINGLE else t.ljust(SHINGLE, "\0") for t in texts]
    lens = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    tok = (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]
    ends = np.cumsum(lens)
    valid = np.ones(len(codes), dtype=bool)
    valid[ends - 1] = False
    valid[ends - 2] = False
    tok = tok[valid[:-2]]
    tok *= np.uint64(0x9E3779B97F4A7C15)
    tok ^= tok >> np.uint64(31)
    tok *= np.uint64(0xBF58476D1CE4E5B9)
    tok ^= tok >> np.uint64(29)
    offsets = np.zeros(len(lens) + 1, dtype=np.uint64)
    np.cumsum(lens - (SHINGLE - 1), out=offsets[1:])
    digests = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        tok, offsets, num_perm=NUM_PERM, seed=seed
    )
    return np.array(digests.to_rows(), dtype=np.uint32)


def _histograms(texts: list[str]) -> np.ndarray:
    """Character counts of each text folded into :data:`HIST_BINS` bins (uint8, saturating)."""
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    bins = ((codes * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(60)).astype(np.int64)
    flat = np.repeat(np.arange(len(texts), dtype=np.int64), lens) * HIST_BINS + bins
    counts = np.bincount(flat, minlength=len(texts) * HIST_BINS)
    return np.minimum(counts, 255).astype(np.uint8).reshape(len(texts), HIST_BINS)


def _band_pairs(sig: np.ndarray, max_bucket: int) -> np.ndarray:
    """Distinct candidate pairs ``i < j`` (packed ``i << 32 | j``) sharing an LSH band.

    Returned most-banded first: pairs that agree on more bands are more alike, so verifying
    them first joins clusters early and spares later checks.
    """
    n = sig.shape[0]
    chunks = []
    for b in range(BANDS):
        key = np.zeros(n, dtype=np.uint64)
        for c in range(b * ROWS, (b + 1) * ROWS):
            key = (key * np.uint64(0x100000001B3)) ^ sig[:, c].astype(np.uint64)
            key ^= key >> np.uint64(29)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, n])
        keep = (sizes >= 2) & (sizes <= max_bucket)
        starts, sizes = starts[keep], sizes[keep]
        if not len(sizes):
            continue
        # every (i, j) with i < j inside each bucket, one numpy step per bucket size
        for m in np.unique(sizes):
            iu, ju = np.triu_indices(int(m), 1)
            st = starts[sizes == m][:, None]
            x, y = order[st + iu].ravel(), order[st + ju].ravel()
            chunks.append((np.minimum(x, y).astype(np.int64) << 32) | np.maximum(x, y))
    if not chunks:
        return np.empty(0, dtype=np.int64)
    pairs, counts = np.unique(np.concatenate(chunks), return_counts=True)
    return pairs[np.argsort(-counts, kind="stable")]


def near_duplicate_clusters(
    texts: list[str], *, ratio: float = NEAR_RATIO, seed: int = 0
) -> np.ndarray:
    """Cluster label (index of the smallest member) of each distinct text.

    Candidates: pairs that share one of :data:`BANDS` LSH bands of :data:`ROWS` MinHash values
    (buckets larger than :data:`MAX_BUCKET` are skipped). A candidate is verified when the
    normalised Indel similarity is >= ``ratio``; clusters are connected components of
    verified pairs. Candidates already in one cluster, or whose lengths alone rule out
    ``ratio``, are not verified.

    >>> near_duplicate_clusters(["vote for the future of japan now",
    ...                          "vote for the future of japan now!!", "something else entirely"])
    array([0, 0, 2])
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Indel
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(texts)
    label = np.arange(n)
    if n < 2:
        return label
    pairs = _band_pairs(_signatures(texts, seed), MAX_BUCKET)
    u, v = pairs >> 32, pairs & 0xFFFFFFFF
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    lu, lv = lens[u], lens[v]
    # Indel distance >= |len_u - len_v|, so similarity <= 1 - |Δlen| / (len_u + len_v)
    fits = (1.0 - np.abs(lu - lv) / np.maximum(lu + lv, 1)) * 100.0 >= ratio - 1e-9
    u, v = u[fits], v[fits]
    # Indel distance >= the L1 distance of the texts' character histograms, also after
    # folding the alphabet into HIST_BINS bins: a cheap exact bound that rules out most
    # template look-alikes before the edit-distance check
    hist = _histograms(texts)
    keep = np.ones(len(u), dtype=bool)
    for lo in range(0, len(u), VERIFY_BATCH):
        bu, bv = u[lo : lo + VERIFY_BATCH], v[lo : lo + VERIFY_BATCH]
        l1 = np.abs(hist[bu].astype(np.int16) - hist[bv]).sum(axis=1)
        budget = (1.0 - ratio / 100.0) * (lens[bu] + lens[bv]) + 1e-9
        keep[lo : lo + VERIFY_BATCH] = l1 <= budget
    u, v = u[keep], v[keep]
    arr = np.array(texts, dtype=object)
    nodes = np.arange(n)
    for lo in range(0, len(u), VERIFY_BATCH):
        bu, bv = u[lo : lo + VERIFY_BATCH], v[lo : lo + VERIFY_BATCH]
        todo = label[bu] != label[bv]
        bu, bv = bu[todo], bv[todo]
        if not len(bu):
            continue
        sim = process.cpdist(
            arr[bu],
            arr[bv],
            scorer=Indel.normalized_similarity,
            workers=-1,
            score_cutoff=max(0.0, ratio / 100.0 - 1e-9),
        )
        ok = sim * 100.0 >= ratio
        if not ok.any():
            continue
        eu, ev = label[bu[ok]], label[bv[ok]]
        graph = coo_matrix((np.ones(len(eu), dtype=np.int8), (eu, ev)), shape=(n, n))
        ncomp, comp = connected_components(graph, directed=False)
        smallest = np.full(ncomp, n)
        np.minimum.at(smallest, comp, nodes)
        label = smallest[comp[label]]
    return label


@dataclass(frozen=True)
class TextTrace:
    """Co-text: ``exact`` (same cleaned text) or ``near`` (same near-duplicate cluster)."""

    name: str
    description: str
    near: bool
    origin: str = "created"
    untimed_name: str | None = None

    def build(
        self,
        con: duckdb.DuckDBPyConnection,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> str:
        """SELECT of this trace's actions; the shared text-target table is built once per
        connection (the engine drops it before each run), from posts in ``[since, until)``."""
        table = "_fs_text_targets"
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()[0]
        if not exists or not exists[0]:
            _build_text_targets(con, table, since=since, until=until)
        col = "near_target" if self.near else "exact_target"
        return (
            f"SELECT platform, account_id, '{self.name}' AS trace, {col} AS target, \"at\", "
            f"post_id, CAST(NULL AS TIMESTAMPTZ) AS t0 FROM {table}"
        )


# The same cleaning as :func:`clean_text`, in DuckDB (RE2): ``\\p{L}\\p{N}`` is what Python's
# Unicode ``\\w`` keeps (minus ``_``), and whitespace is Python's ``\\s`` (ASCII, \\x1c-\\x1f,
# \\x85 and every Unicode separator).
_WS = r"\s\x0b\x1c-\x1f\x85\p{Z}"
_WORD = r"\p{L}\p{N}_.\-"
_CLEAN_SQL = (
    "trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(@COL, "
    f"'^rt[{_WS}]+@[{_WORD}]+:?[{_WS}]*', ''), "
    f"'https?://[^{_WS}]+|www\\.[^{_WS}]+', ' ', 'g'), '@[{_WORD}]+', ' ', 'g'), "
    r"'[^\p{L}\p{N}]+', ' ', 'g'))"
)
_MIN_LEN_SQL = (
    "length(replace(@T, ' ', '')) >= CASE WHEN regexp_matches(@T, '[^\\x00-\\x7f]') "
    f"THEN {max(6, MIN_CHARS // 2)} ELSE {MIN_CHARS} END"
)


def clean_text_sql(col: str) -> str:
    """SQL expression equal to :func:`clean_text` of ``col`` (NULL when too short)."""
    t = _CLEAN_SQL.replace("@COL", col)
    return f"CASE WHEN {_MIN_LEN_SQL.replace('@T', t)} THEN {t} END"


def _build_text_targets(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """Clean in DuckDB, then MinHash/LSH/verify each *distinct* cleaned text once."""
    clean = f"{table}_clean"
    period, params = "", []
    if since is not None:
        period += " AND created_at >= ?"
        params.append(since)
    if until is not None:
        period += " AND created_at < ?"
        params.append(until)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {clean} AS "
        'SELECT platform, account_id, post_id, created_at AS "at", '
        f"{clean_text_sql('text_norm')} AS t FROM posts "
        "WHERE kind <> 'repost' AND text_norm IS NOT NULL AND account_id IS NOT NULL" + period,
        params,
    )
    try:
        distinct = sorted(
            r[0] for r in con.execute(f"SELECT DISTINCT t FROM {clean} WHERE t <> ''").fetchall()
        )
        labels = near_duplicate_clusters(distinct)
        exact = [_digest(t) for t in distinct]
        arrow = pa.table(
            {
                "t": pa.array(distinct, pa.string()),
                "exact_target": pa.array(exact, pa.string()),
                "near_target": pa.array(["n:" + exact[int(i)] for i in labels], pa.string()),
            }
        )
        con.register("_fs_text_arrow", arrow)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS "
                'SELECT c.platform, c.account_id, c.post_id, c."at", d.exact_target, '
                f"d.near_target FROM {clean} c LEFT JOIN _fs_text_arrow d ON c.t = d.t"
            )
        finally:
            con.unregister("_fs_text_arrow")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {clean}")


TEXT_TRACES = (
    TextTrace("text", "Accounts that posted the same cleaned text (exact copy-paste).", False),
    TextTrace(
        "text_near",
        "Accounts that posted near-duplicate texts (MinHash/LSH over character 3-grams, "
        "verified by edit similarity).",
        True,
    ),
)
