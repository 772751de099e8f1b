"""Significance of co-action edges under null models that keep each account's own activity.

Two null models, chosen by the kind of target (see ``docs/methods.md`` for the full account):

**Delay shuffle** (timed traces on targets that exist before the actors act: posts, URLs,
hashtags). Each account's action on a target has a delay ``d = t(first action) - t0(target)``
(``t0``: the target post's creation time, else the first observed action on it). For a pair
(a, b) with ``S`` shared targets, the null keeps *which* targets each account acted on and the
set of delays each account showed on them, but pairs a's delays with a random permutation of
b's: accounts act independently given their own timing habits. The probability that a given
shared target is a co-action is then ``q = (1/S²) Σ_s Σ_t 1[|d_a(s) - d_b(t)| <= Δt]`` and
the number of co-acted targets ``k`` is compared with ``Binomial(S, q)``. Fans who always
repost their idol about 25 minutes after she posts have concentrated delays, so ``q`` is high
and they are not flagged; bots fired at arbitrary times hours after a post but within seconds
of each other have spread delays and a tiny ``q``.

**Popularity** (targets the actors create themselves: texts, media, timing; and set-overlap
traces without times). Each account draws its ``n_a`` distinct targets independently, target
``t`` with probability ``c_t / C`` (its number of distinct actors over all actors). The number of
shared targets is ~ ``Poisson(n_a n_b Σ_t c_t² / C²)``.

Multiple testing: for each trace, ``M`` = the number of pairs that could share a target,
``min(C(n, 2), Σ_t C(c_t, 2))``; an edge is significant when ``p <= E / Σ M`` (Bonferroni with
``E`` expected chance edges over all tested pairs).

References
----------
.. [1] Tumminello, M., Miccichè, S., Lillo, F., Piilo, J., & Mantegna, R. N. (2011).
   Statistically validated networks in bipartite complex systems. *PLoS ONE*, 6(3), e17994.
.. [2] Weber, D., & Neumann, F. (2021). Amplifying influence through coordinated behaviour in
   social networks. *Social Network Analysis and Mining*, 11, 111.
.. [3] Pacheco, D., Hui, P.-M., Torres-Lugo, C., Truong, B. T., Flammini, A., & Menczer, F.
   (2021). Uncovering coordinated networks on social media. *ICWSM*.
"""

from __future__ import annotations

import duckdb
import numpy as np
from scipy import stats

from fimiscope._sql import quote_ident

__all__ = ["delay_shuffle_test", "popularity_test", "tested_pairs"]


def tested_pairs(con: duckdb.DuckDBPyConnection, actions: str, min_activity: int) -> dict:
    """``{(platform, trace): M}``: pairs of active accounts that share at least one target."""
    rows = con.execute(
        "WITH act AS (SELECT platform, trace, account_id, target FROM "
        + quote_ident(actions)
        + " WHERE target IS NOT NULL AND target <> '' GROUP BY ALL), "
        "active AS (SELECT platform, trace, account_id FROM act GROUP BY ALL "
        "           HAVING count(*) >= ?), "
        "kept AS (SELECT a.* FROM act a SEMI JOIN active USING (platform, trace, account_id)), "
        "per_t AS (SELECT platform, trace, count(*) AS c FROM kept GROUP BY platform, trace, "
        "          target) "
        "SELECT p.platform, p.trace, "
        "  least(CAST(n.n AS DOUBLE) * (n.n - 1) / 2, sum(CAST(p.c AS DOUBLE) * (p.c - 1) / 2)) "
        "FROM per_t p JOIN (SELECT platform, trace, count(*) AS n FROM active GROUP BY ALL) n "
        "USING (platform, trace) GROUP BY p.platform, p.trace, n.n",
        [min_activity],
    ).fetchall()
    return {(r[0], r[1]): float(r[2]) for r in rows}


def delay_shuffle_test(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    pairs: str,
    *,
    window: float,
    out: str,
) -> str:
    """Write ``out`` (platform, trace, account_a, account_b, shared, k, q, expected, p_value).

    ``actions`` holds the action columns plus ``t0``; ``pairs`` is a :func:`pair_counts`
    result (its pairs are the candidates). ``k`` counts shared targets whose first actions
    fall within ``window``; ``expected = S q``.
    """
    w = max(float(window), 1e-6)
    first = quote_ident(f"{out}_first")
    shared = quote_ident(f"{out}_shared")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {first} AS "
            'WITH a AS (SELECT platform, trace, account_id, target, min("at") AS t, '
            "                  min(t0) AS t0 "
            f"           FROM {quote_ident(actions)} "
            "           WHERE target IS NOT NULL AND target <> '' AND \"at\" IS NOT NULL "
            "           GROUP BY ALL) "
            "SELECT platform, trace, account_id, target, "
            "  (epoch_us(t) - epoch_us(coalesce(min(t0) OVER w, min(t) OVER w))) / 1e6 AS d "
            "FROM a WINDOW w AS (PARTITION BY platform, trace, target)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {shared} AS "
            "SELECT row_number() OVER () AS pid, platform, trace, account_a, account_b "
            f"FROM {quote_ident(pairs)}"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {shared} AS "
            "SELECT s.pid, s.platform, s.trace, s.account_a, s.account_b, fa.target, "
            "       fa.d AS da, fb.d AS db "
            f"FROM {shared} s "
            f"JOIN {first} fa ON fa.platform = s.platform AND fa.trace = s.trace "
            "  AND fa.account_id = s.account_a "
            f"JOIN {first} fb ON fb.platform = s.platform AND fb.trace = s.trace "
            "  AND fb.account_id = s.account_b AND fb.target = fa.target"
        )
        # All-against-all delay matches within each pair, through buckets of width w so the
        # join stays an equi-join and only near delays meet.
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
            "WITH base AS ("
            "  SELECT pid, any_value(platform) AS platform, any_value(trace) AS trace, "
            "         any_value(account_a) AS account_a, any_value(account_b) AS account_b, "
            "         count(*) AS shared, count(*) FILTER (WHERE abs(da - db) <= $1) AS k "
            f"  FROM {shared} GROUP BY pid"
            "), m AS ("
            "  SELECT x.pid, count(*) AS m FROM "
            "    (SELECT pid, da, CAST(floor(da / $1) AS BIGINT) + o AS bk "
            f"     FROM {shared}, (VALUES (-1), (0), (1)) v(o)) x "
            "  JOIN (SELECT pid, db, CAST(floor(db / $1) AS BIGINT) AS bk "
            f"        FROM {shared}) y ON x.pid = y.pid AND x.bk = y.bk "
            "  WHERE abs(x.da - y.db) <= $1 GROUP BY x.pid"
            ") "
            "SELECT b.platform, b.trace, b.account_a, b.account_b, b.shared, b.k, "
            "       coalesce(m.m, 0) / (CAST(b.shared AS DOUBLE) * b.shared) AS q "
            "FROM base b LEFT JOIN m USING (pid)",
            [w],
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {first}")
        con.execute(f"DROP TABLE IF EXISTS {shared}")
    _add_p_values(con, out, "binomial")
    return out


def popularity_test(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    pairs: str,
    *,
    out: str,
) -> str:
    """Write ``out`` like :func:`delay_shuffle_test`, under the popularity null.

    ``shared`` is the number of distinct shared targets (times ignored), ``q`` the expected
    number of shared targets ``n_a n_b Σ c_t² / C²``.
    """
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
        "WITH at_ AS (SELECT DISTINCT platform, trace, account_id, target "
        f"             FROM {quote_ident(actions)} WHERE target IS NOT NULL AND target <> ''), "
        "deg AS (SELECT platform, trace, account_id, count(*) AS n FROM at_ GROUP BY ALL), "
        "pop AS (SELECT platform, trace, sum(CAST(c AS DOUBLE) * c) / (sum(c) * sum(c)) AS r "
        "        FROM (SELECT platform, trace, target, count(*) AS c FROM at_ GROUP BY ALL) "
        "        GROUP BY ALL) "
        "SELECT p.platform, p.trace, p.account_a, p.account_b, p.n_targets AS shared, "
        "       p.n_targets AS k, CAST(da.n AS DOUBLE) * db.n * pop.r AS q "
        f"FROM {quote_ident(pairs)} p "
        "JOIN deg da ON da.platform = p.platform AND da.trace = p.trace "
        "  AND da.account_id = p.account_a "
        "JOIN deg db ON db.platform = p.platform AND db.trace = p.trace "
        "  AND db.account_id = p.account_b "
        "JOIN pop ON pop.platform = p.platform AND pop.trace = p.trace"
    )
    _add_p_values(con, out, "poisson")
    return out


def _add_p_values(con: duckdb.DuckDBPyConnection, table: str, kind: str) -> None:
    """Add ``expected`` and ``p_value`` computed with SciPy (upper tail, inclusive)."""
    import pyarrow as pa

    t = quote_ident(table)
    arrow = con.sql(f"SELECT * FROM {t}").to_arrow_table()
    shared = arrow.column("shared").to_numpy().astype(np.float64)
    k = arrow.column("k").to_numpy().astype(np.float64)
    q = np.clip(arrow.column("q").to_numpy(zero_copy_only=False).astype(np.float64), 0, None)
    if kind == "binomial":
        expected = shared * q
        p = stats.binom.sf(k - 1, shared, np.clip(q, 0.0, 1.0))
    else:
        expected = q
        p = stats.poisson.sf(k - 1, q)
    arrow = arrow.append_column("expected", pa.array(expected, pa.float64()))
    arrow = arrow.append_column("p_value", pa.array(np.clip(p, 0.0, 1.0), pa.float64()))
    con.register("_fs_pvals", arrow)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {t} AS SELECT * FROM _fs_pvals")
    finally:
        con.unregister("_fs_pvals")
