"""Data-driven estimate of the coordination interval Δt.

The idea follows CooRnet's ``estimate_coord_interval`` (Giglietto et al. 2020): among
targets acted on at least twice, take the share ``q`` whose *second* action came quickest
after the first; for each of them measure the time from the first action until ``p`` of
all its actions had happened; Δt is the median of those times. Unusually quick co-actions
are thus defined relative to how quickly the quickest targets of this very data set spread.

References
----------
.. [1] Giglietto, F., Righetti, N., Rossi, L., & Marino, G. (2020). It takes a village to
   manipulate the media. *Information, Communication & Society*, 23(6), 867-891.
"""

from __future__ import annotations

import duckdb

from fimiscope._sql import quote_ident

__all__ = ["estimate_window"]


def estimate_window(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    *,
    q: float = 0.1,
    p: float = 0.5,
    lower: float = 1.0,
    upper: float = 3600.0,
) -> float | None:
    """Estimate Δt in seconds from timed actions, clamped to ``[lower, upper]``.

    Returns None when no target was acted on twice with known times.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute(
    ...     "CREATE TABLE a AS SELECT 't' || (i // 4) AS target, "
    ...     "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((i % 4) * (1 + i // 4)) AS \\"at\\" "
    ...     "FROM range(40) r(i)")
    >>> estimate_window(con, "a")
    1.0
    """
    row = con.execute(
        "WITH r AS ("
        '  SELECT target, epoch_us("at") AS us, '
        '         row_number() OVER (PARTITION BY target ORDER BY "at") AS rn, '
        "         count(*) OVER (PARTITION BY target) AS n "
        f"  FROM {quote_ident(actions)} "
        "  WHERE target IS NOT NULL AND target <> '' AND \"at\" IS NOT NULL"
        "), per AS ("
        "  SELECT target, "
        "    (max(us) FILTER (WHERE rn = 2) - min(us)) / 1e6 AS second_s, "
        "    (max(us) FILTER (WHERE rn = greatest(2, CAST(ceil(n * $2) AS BIGINT))) - min(us))"
        "      / 1e6 AS reach_s "
        "  FROM r WHERE n >= 2 GROUP BY target"
        "), quick AS ("
        "  SELECT reach_s FROM per WHERE second_s <= (SELECT quantile_cont(second_s, $1) FROM per)"
        ") SELECT median(reach_s) FROM quick",
        [q, p],
    ).fetchall()[0]
    if row is None or row[0] is None:
        return None
    return float(min(upper, max(lower, round(float(row[0]), 3))))
