"""Peer-compatible co-action networks: CooRTweet and the QUT coordination-network-toolkit.

fimiscope's own definition is :func:`fimiscope.coordination.pairs.pair_counts`. The functions
here give the edge lists two widely used peers compute, so that published results can be
reproduced on fimiscope's store and compared with its own. Both run in DuckDB over an
*actions* table (``platform, account_id, trace, target, at, post_id``; ``post_id`` plays the
peers' message / content id), separately for every ``(platform, trace)``, as each peer runs on
one input table. Which actions go in (retweets only, links of original posts only, ...) is
the trace's business, as with ``pair_counts``.

Differences to the peers are listed in each docstring; each is a defect of the peer (or a
case the peer's input format cannot express) that fimiscope does not reproduce by default.
"""

from __future__ import annotations

import math
import secrets
from numbers import Real

import duckdb

from fimiscope._sql import quote_ident
from fimiscope.coordination.pairs import pair_counts
from fimiscope.errors import ConfigError

__all__ = ["COORTWEET_COLUMNS", "QUT_COLUMNS", "coortweet_network", "qut_network"]

COORTWEET_COLUMNS: tuple[str, ...] = (
    "platform",
    "trace",
    "account_a",
    "account_b",
    "weight",
    "avg_time_delta",
    "n_content_a",
    "n_content_b",
    "edge_symmetry_score",
    "weight_threshold",
    "weight_fast",
    "avg_time_delta_fast",
    "weight_threshold_fast",
)
"""Columns :func:`coortweet_network` writes (the ``*_fast`` ones are NULL without a fast window)."""

QUT_COLUMNS: tuple[str, ...] = ("platform", "trace", "user_1", "user_2", "weight")
"""Columns :func:`qut_network` writes."""


def _window(owner: str, name: str, value: object, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise ConfigError(name, owner, "a number of seconds >= 0", value)
    return float(value)


def _int(owner: str, name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(name, owner, f"an integer >= {low}", value)
    return value


def _bucket_join(src: str, w_us: int, extra: str) -> str:
    """``FROM`` clause pairing each row ``a`` of ``src`` with rows ``b`` on the same target
    within ``w_us`` microseconds, through an equi-join on (platform, trace, target, bucket).

    The ``a`` side is expanded to its own and both adjacent buckets, so each ordered pair of
    rows (a, b) within the window appears exactly once.
    """
    width = max(1, w_us)
    return (
        f"FROM (SELECT *, us // {width} + d AS bk FROM {src}, (VALUES (-1), (0), (1)) v(d)) a "
        f"JOIN (SELECT *, us // {width} AS bk FROM {src}) b "
        "ON a.platform = b.platform AND a.trace = b.trace AND a.target = b.target AND a.bk = b.bk "
        f"WHERE abs(a.us - b.us) <= {w_us} {extra}"
    )


# -- CooRTweet --------------------------------------------------------------------------------
def coortweet_network(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    *,
    time_window: float = 10,
    min_participation: int = 2,
    edge_weight: float = 0.5,
    fast_time_window: float | None = None,
    subgraph: int = 0,
    out: str = "coortweet_edges",
) -> str:
    """The coordinated network of CooRTweet's ``detect_groups`` + ``generate_coordinated_network``.

    Semantics, per ``(platform, trace)`` (CooRTweet's ``object_id`` is ``target``,
    ``content_id`` is ``post_id``, ``timestamp_share`` is ``at``):

    1. Accounts with fewer than ``min_participation`` *shares* (rows, not distinct objects)
       are dropped.
    2. Every unordered pair of shares of the same object by *different* accounts whose times
       differ by at most ``time_window`` seconds (inclusive) is a co-share. Shares whose
       content id equals the object id (the original post listed among its own shares) and
       pairs of rows with the same content id are not co-shares (CooRTweet's
       ``remove_loops = TRUE``, its default).
    3. Second participation filter: an account is kept when at least ``min_participation``
       of its shares are in some co-share; a co-share is kept when *either* of its two
       accounts is kept (CooRTweet's ``filter_min_participation``).
    4. Undirected edge per account pair: ``weight`` = number of co-shares,
       ``avg_time_delta`` = their mean ``|Δt|`` in seconds, ``n_content_a`` / ``n_content_b``
       = distinct shares of each account in them, ``edge_symmetry_score`` =
       ``min(n_content_a, n_content_b) / max(...)``.
    5. ``weight_threshold`` = 1 when ``weight`` is strictly above the ``edge_weight``
       quantile (R's default type-7 quantile, i.e. linear interpolation) of all edge weights
       of the ``(platform, trace)``, else 0.
    6. Fast network (``fast_time_window``, CooRTweet's ``flag_speed_share`` + ``fast_net =
       TRUE``): co-shares with ``|Δt| <= fast_time_window`` go through the participation
       filter of step 3 again; the edges they form get ``weight_fast``,
       ``avg_time_delta_fast`` and ``weight_threshold_fast`` (the same quantile rule over
       the fast edges); other edges have NULL there.
    7. ``subgraph``: 0 keeps every edge; 1 the edges with ``weight_threshold = 1``; 2 those
       with ``weight_threshold_fast = 1``; 3 those with a fast co-share.

    Differences to CooRTweet 2.1 (all deliberate):

    - Rows with a NULL or empty target, or a NULL time, take no part at all (CooRTweet would
      pair empty objects with each other).
    - ``n_content_a`` / ``n_content_b`` count the shares *of each account*, as CooRTweet's
      documentation describes ``n_content_id`` / ``n_content_id_y``; its code counts the
      older / newer side of each co-share instead, which mixes the two accounts.
    - ``subgraph = 1`` with a fast window keeps the edges above the full-network threshold;
      CooRTweet looks up an attribute that only exists without ``fast_net`` and returns an
      empty graph.
    - A NULL ``post_id`` makes the row its own content (CooRTweet requires content ids).

    Parameters
    ----------
    con
        DuckDB connection holding ``actions``; ``out`` is (re)created in it.
    actions
        Table or view with the action columns.
    time_window
        Seconds (inclusive); CooRTweet's default is 10.
    min_participation
        Minimum shares per account (step 1 and 3); CooRTweet's default is 2.
    edge_weight
        Quantile in [0, 1] for the weight threshold; CooRTweet's default is 0.5.
    fast_time_window
        The narrower window of the fast network, or None.
    subgraph
        0, 1, 2 or 3 (see above); 2 and 3 need ``fast_time_window``.
    out
        Name of the table to write, with the columns of :data:`COORTWEET_COLUMNS`.

    Returns
    -------
    str
        ``out``.

    References
    ----------
    .. [1] Righetti, N., & Balluff, P. (2025). CooRTweet: Coordinated Networks Detection on
       Social Media. R package version 2.1.2. https://github.com/nicolarighetti/CooRTweet
    .. [2] Giglietto, F., Righetti, N., Rossi, L., & Marino, G. (2020). It takes a village to
       manipulate the media. *Information, Communication & Society*, 23(6), 867-891.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET TimeZone = 'UTC'")
    >>> _ = con.execute(
    ...     "CREATE TABLE acts AS SELECT platform, account_id, 'co-repost' AS trace, target, "
    ...     "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(s) AS at, post_id FROM (VALUES "
    ...     "('x','u1','p1',0,'r1'), ('x','u2','p1',5,'r2'), ('x','u1','p2',0,'r3'),"
    ...     "('x','u2','p2',8,'r4')) t(platform, account_id, target, s, post_id)")
    >>> coortweet_network(con, "acts", time_window=10)
    'coortweet_edges'
    >>> con.execute("SELECT account_a, account_b, weight, avg_time_delta "
    ...             "FROM coortweet_edges").fetchall()
    [('u1', 'u2', 2, 6.5)]
    """
    owner = "coortweet_network"
    tw = _window(owner, "time_window", time_window)
    fw = _window(owner, "fast_time_window", fast_time_window, allow_none=True)
    mp = _int(owner, "min_participation", min_participation, 1)
    if (
        isinstance(edge_weight, bool)
        or not isinstance(edge_weight, Real)
        or not 0 <= float(edge_weight) <= 1
    ):
        raise ConfigError("edge_weight", owner, "a quantile between 0 and 1", edge_weight)
    if subgraph not in (0, 1, 2, 3) or isinstance(subgraph, bool):
        raise ConfigError("subgraph", owner, "0, 1, 2 or 3", subgraph)
    if subgraph in (2, 3) and fw is None:
        raise ConfigError(
            "fast_time_window", owner, "a number of seconds when subgraph is 2 or 3", None
        )
    assert tw is not None

    tag = secrets.token_hex(4)
    src = quote_ident(f"_fs_ct_src_{tag}")
    cs = quote_ident(f"_fs_ct_cs_{tag}")
    try:
        # Step 1: one row per share, with a row id standing in for a missing content id.
        con.execute(
            f"CREATE TEMP TABLE {src} AS "
            "WITH s AS ("
            "  SELECT CAST(platform AS VARCHAR) AS platform, CAST(trace AS VARCHAR) AS trace, "
            "         CAST(account_id AS VARCHAR) AS account_id, "
            "         CAST(target AS VARCHAR) AS target, "
            '         epoch_us(CAST("at" AS TIMESTAMPTZ)) AS us, '
            "         CAST(post_id AS VARCHAR) AS post_id "
            f"  FROM {quote_ident(actions)} "
            "  WHERE target IS NOT NULL AND target <> '' AND \"at\" IS NOT NULL "
            "    AND account_id IS NOT NULL"
            ") "
            "SELECT *, row_number() OVER () AS rid, coalesce(post_id = target, false) AS self_obj "
            "FROM s QUALIFY count(*) OVER (PARTITION BY platform, trace, account_id) >= ?",
            [mp],
        )
        # Step 2: co-shares (each unordered pair of rows once: a.rid < b.rid).
        w_us = round(tw * 1e6)
        con.execute(
            f"CREATE TEMP TABLE {cs} AS "
            "SELECT a.platform, a.trace, "
            "  a.rid AS rid_1, b.rid AS rid_2, a.account_id AS acc_1, b.account_id AS acc_2, "
            "  abs(a.us - b.us) AS gap_us "
            + _bucket_join(
                src,
                w_us,
                "AND a.rid < b.rid AND a.account_id <> b.account_id AND NOT a.self_obj "
                "AND NOT b.self_obj "
                "AND (a.post_id IS NULL OR b.post_id IS NULL OR a.post_id <> b.post_id)",
            ),
        )
        full = _coortweet_edges(cs, mp, None)
        body = (
            f"WITH f AS ({full}), "
            "ft AS (SELECT f.*, CASE WHEN weight > quantile_cont(weight, $ew) "
            "       OVER (PARTITION BY platform, trace) THEN 1 ELSE 0 END AS weight_threshold "
            "  FROM f)"
        )
        if fw is not None:
            fast = _coortweet_edges(cs, mp, round(fw * 1e6))
            body += (
                f", q AS ({fast}), "
                "qt AS (SELECT q.*, CASE WHEN weight > quantile_cont(weight, $ew) "
                "       OVER (PARTITION BY platform, trace) THEN 1 ELSE 0 END AS wt FROM q) "
                "SELECT ft.platform, ft.trace, ft.account_a, ft.account_b, ft.weight, "
                "ft.avg_time_delta, ft.n_content_a, ft.n_content_b, ft.edge_symmetry_score, "
                "ft.weight_threshold, qt.weight AS weight_fast, "
                "qt.avg_time_delta AS avg_time_delta_fast, qt.wt AS weight_threshold_fast "
                "FROM ft LEFT JOIN qt USING (platform, trace, account_a, account_b)"
            )
        else:
            body += (
                " SELECT *, CAST(NULL AS BIGINT) AS weight_fast, "
                "CAST(NULL AS DOUBLE) AS avg_time_delta_fast, "
                "CAST(NULL AS INTEGER) AS weight_threshold_fast FROM ft"
            )
        keep = {
            0: "true",
            1: "weight_threshold = 1",
            2: "weight_threshold_fast = 1",
            3: "weight_fast IS NOT NULL",
        }[subgraph]
        sql = f"CREATE OR REPLACE TABLE {quote_ident(out)} AS SELECT * FROM ({body}) WHERE {keep}"
        con.execute(sql, {"ew": float(edge_weight)})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {src}")
        con.execute(f"DROP TABLE IF EXISTS {cs}")
    return out


def _coortweet_edges(cs: str, mp: int, fast_us: int | None) -> str:
    """SELECT of the edge aggregates over the co-shares that pass the participation filter."""
    fast = f"WHERE gap_us <= {fast_us}" if fast_us is not None else ""
    # Shares that are in some co-share, per account; the account is kept with >= mp of them.
    return (
        f"WITH c AS (SELECT * FROM {cs} {fast}), "
        "shares AS (SELECT platform, trace, acc_1 AS account_id, rid_1 AS rid FROM c "
        "           UNION SELECT platform, trace, acc_2, rid_2 FROM c), "
        "kept AS (SELECT platform, trace, account_id FROM shares GROUP BY ALL "
        f"        HAVING count(*) >= {mp}), "
        "ck AS (SELECT c.* FROM c WHERE EXISTS (SELECT 1 FROM kept k WHERE k.platform = c.platform "
        "       AND k.trace = c.trace AND k.account_id IN (c.acc_1, c.acc_2))), "
        "o AS (SELECT platform, trace, least(acc_1, acc_2) AS account_a, "
        "      greatest(acc_1, acc_2) AS account_b, "
        "      CASE WHEN acc_1 < acc_2 THEN rid_1 ELSE rid_2 END AS rid_a, "
        "      CASE WHEN acc_1 < acc_2 THEN rid_2 ELSE rid_1 END AS rid_b, gap_us FROM ck) "
        "SELECT platform, trace, account_a, account_b, count(*) AS weight, "
        "  avg(gap_us) / 1e6 AS avg_time_delta, count(DISTINCT rid_a) AS n_content_a, "
        "  count(DISTINCT rid_b) AS n_content_b, "
        "  least(count(DISTINCT rid_a), count(DISTINCT rid_b)) / "
        "  greatest(count(DISTINCT rid_a), count(DISTINCT rid_b)) AS edge_symmetry_score "
        "FROM o GROUP BY ALL"
    )


# -- QUT coordination-network-toolkit ---------------------------------------------------------
def qut_network(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    *,
    time_window: float,
    min_edge_weight: int = 2,
    qut_compatible: bool = False,
    out: str = "qut_edges",
) -> str:
    """The QUT coordination-network-toolkit's ``co_retweet`` / ``co_tweet`` / ``co_link`` network.

    The toolkit (version 1.5.2) computes all three with the same SQLite self-join on a key
    (retweeted id, normalised text, or URL): message *m₁* of user *u₁* and message *m₂* of
    user *u₂* match when the key is equal and ``t₂`` lies in ``[t₁ - w, t₁ + w]`` (symmetric,
    inclusive, seconds). The directed weight of ``u₁ → u₂`` is the number of distinct
    messages of *u₁* that match at least one message of *u₂*; edges with weight below
    ``min_edge_weight`` are dropped. Here the key is ``target``, the message is ``post_id``
    (a row without one is its own message), the trace selects which messages take part (the
    toolkit's ``co_retweet`` uses retweets only, ``co_tweet`` and ``co_link`` non-retweets
    only), and the time comparison is in microseconds (the toolkit compares float seconds:
    the same for times given to the millisecond).

    ``qut_compatible=True`` reproduces the toolkit's ``co_*_network`` table row for row,
    including three defects:

    - every message matches itself, so every user with at least ``min_edge_weight`` messages
      gets a self-loop ``u → u`` weighted by their message count (the toolkit's export drops
      loops unless ``--include_self_loops``, but its table and its weights keep them);
    - the empty key matches: the toolkit's CSV import splits an empty ``urls`` field into
      one empty URL, so every message without a link "co-links" with every other within the
      window (an empty target here behaves the same way; NULL never matches);
    - weights are directed and can be lopsided: a user who posts the same link five times
      within the window of another user's single post gets ``5`` one way and ``1`` the
      other.

    The default (``qut_compatible=False``) is the same join without them: no self-loops,
    NULL and empty targets never match, and one undirected edge ``user_1 < user_2`` whose
    weight is the number of distinct targets the two co-acted on within the window -- which
    equals both directed weights of the toolkit whenever each account acts at most once per
    target (one retweet per tweet, the usual case). It is
    :func:`~fimiscope.coordination.pairs.pair_counts` with ``min_repetitions =
    min_edge_weight``.

    Parameters
    ----------
    con
        DuckDB connection holding ``actions``; ``out`` is (re)created in it.
    actions
        Table or view with the action columns.
    time_window
        Seconds, inclusive on both sides (the toolkit's ``--time_window``).
    min_edge_weight
        Minimum weight (the toolkit's ``--min_edge_weight``; its CLI default is 2).
    qut_compatible
        Reproduce the toolkit's table exactly, defects included (see above).
    out
        Name of the table to write, with the columns of :data:`QUT_COLUMNS`.

    Returns
    -------
    str
        ``out``.

    References
    ----------
    .. [1] Graham, T., Hames, S., & Alpert, E. (2024). The coordination network toolkit: a
       framework for detecting and analysing coordinated behaviour on social media. *Journal
       of Computational Social Science*. https://github.com/QUT-Digital-Observatory/coordination-network-toolkit

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET TimeZone = 'UTC'")
    >>> _ = con.execute(
    ...     "CREATE TABLE acts AS SELECT platform, account_id, 'co-repost' AS trace, target, "
    ...     "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(s) AS at, post_id FROM (VALUES "
    ...     "('x','u1','p1',0,'r1'), ('x','u2','p1',5,'r2')) "
    ...     "t(platform, account_id, target, s, post_id)")
    >>> qut_network(con, "acts", time_window=10, min_edge_weight=1, qut_compatible=True)
    'qut_edges'
    >>> con.execute("SELECT user_1, user_2, weight FROM qut_edges ORDER BY ALL").fetchall()
    [('u1', 'u1', 1), ('u1', 'u2', 1), ('u2', 'u1', 1), ('u2', 'u2', 1)]
    >>> _ = qut_network(con, "acts", time_window=10, min_edge_weight=1)
    >>> con.execute("SELECT user_1, user_2, weight FROM qut_edges").fetchall()
    [('u1', 'u2', 1)]
    """
    owner = "qut_network"
    tw = _window(owner, "time_window", time_window)
    mw = _int(owner, "min_edge_weight", min_edge_weight, 1)
    assert tw is not None
    out_q = quote_ident(out)
    if not qut_compatible:
        tag = secrets.token_hex(4)
        tmp = f"_fs_qut_pairs_{tag}"
        try:
            pair_counts(con, actions, window=tw, min_repetitions=mw, out=tmp)
            con.execute(
                f"CREATE OR REPLACE TABLE {out_q} AS SELECT platform, trace, account_a AS user_1, "
                f"account_b AS user_2, n_targets AS weight FROM {quote_ident(tmp)}"
            )
        finally:
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(tmp)}")
        return out

    tag = secrets.token_hex(4)
    src = quote_ident(f"_fs_qut_src_{tag}")
    try:
        con.execute(
            f"CREATE TEMP TABLE {src} AS "
            "SELECT CAST(platform AS VARCHAR) AS platform, CAST(trace AS VARCHAR) AS trace, "
            "  CAST(account_id AS VARCHAR) AS account_id, CAST(target AS VARCHAR) AS target, "
            '  epoch_us(CAST("at" AS TIMESTAMPTZ)) AS us, '
            # A row without a post id is its own message; the prefixes keep the two kinds apart.
            "  CASE WHEN post_id IS NULL THEN 'r' || CAST(row_number() OVER () AS VARCHAR) "
            "       ELSE 'p' || CAST(post_id AS VARCHAR) END AS msg "
            f"FROM {quote_ident(actions)} "
            'WHERE target IS NOT NULL AND "at" IS NOT NULL AND account_id IS NOT NULL'
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {out_q} AS "
            "SELECT a.platform, a.trace, a.account_id AS user_1, b.account_id AS user_2, "
            "  count(DISTINCT a.msg) AS weight "
            + _bucket_join(src, round(tw * 1e6), "")
            + " GROUP BY ALL HAVING count(DISTINCT a.msg) >= ?",
            [mw],
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {src}")
    return out
