"""Co-action pairs: which accounts acted on the same target within Δt of each other.

This module holds the one exact definition that every engine (DuckDB here, Spark in
:mod:`fimiscope.coordination.spark`) must reproduce row for row.

Definition
----------
Input: a table or view of *actions* with the columns ``platform``, ``account_id``, ``trace``,
``target`` (VARCHAR), ``at`` (TIMESTAMPTZ, nullable) and ``post_id`` (VARCHAR, nullable).

1. A row *takes part* when its ``target`` is neither NULL nor the empty string and, in
   windowed mode, its ``at`` is not NULL. Rows that do not take part are ignored everywhere
   (also in the activity count of step 2).
2. Within each ``(platform, trace)``, accounts with fewer than ``min_activity`` distinct
   targets (among the rows that take part) are dropped.
3. Two actions *i* (account *a*) and *j* (account *b*) co-act when ``a != b``, they share
   platform, trace and target, and ``|at_i - at_j| <= window`` seconds (inclusive, compared in
   microseconds) -- or always, when ``window`` is None (*set-overlap mode*).
   3b. *Crowd cells* (when ``max_cell`` is not None, default :data:`MAX_CELL`): the actions
   of a cell -- same platform, trace and target, and in windowed mode the same time bucket
   ``floor(at_us / window_us)`` (microseconds since the epoch, ``window_us = round(window *
   1e6)``, at least 1) -- that holds more than ``max_cell`` actions take part in no co-action.
   Such a cell (an earthquake alert reposted 50,000 times in minutes) would cost
   ``max_cell**2`` pairs and, under the null models, carries no evidence of coordination.
4. The unordered pair (``account_a < account_b`` in binary string order) gets

   - ``n_targets``: distinct targets with at least one co-action;
   - ``n_coactions``: the number of co-acting action pairs (an account that acted twice on
     a target contributes both actions);
   - ``first_at`` / ``last_at``: min / max over its co-actions of the earlier of the two
     times (NULL in set-overlap mode);
   - ``mean_gap_s``: the mean of ``|at_i - at_j|`` in seconds (NULL in set-overlap mode).
5. Pairs with ``n_targets < min_repetitions`` are dropped.

Bounded memory
--------------
Accounts and targets are replaced by dense integers; the pair is grouped on one packed
``BIGINT`` key (``id_a << 32 | id_b``). In windowed mode each action is joined only with the
actions in its own and the adjacent time bucket of width ``window`` (an equi-join, since the
left side is expanded to the three bucket numbers), then filtered to ``|Δt| <= window``; so a
post reposted 50,000 times over a day costs the pairs that really fall within the window, not
50,000². The work is split into ``partitions`` slices by the lower account id and the slices
run one after the other, which bounds the size of each hash aggregation.

References
----------
.. [1] Giglietto, F., Righetti, N., Rossi, L., & Marino, G. (2020). It takes a village to
   manipulate the media: coordinated link sharing behavior during 2018 and 2019 Italian
   elections. *Information, Communication & Society*, 23(6), 867-891.
.. [2] Righetti, N., & Balluff, P. (2023). CooRTweet: Coordinated Networks Detection on Social
   Media. R package.
"""

from __future__ import annotations

import logging
import math
import secrets
from numbers import Real

import duckdb

from fimiscope._sql import first_row, quote_ident
from fimiscope.errors import ConfigError

__all__ = ["ACTION_COLUMNS", "PAIR_COLUMNS", "pair_counts"]

ACTION_COLUMNS: tuple[str, ...] = ("platform", "account_id", "trace", "target", "at", "post_id")
"""Columns an actions table must have."""

PAIR_COLUMNS: tuple[str, ...] = (
    "platform",
    "trace",
    "account_a",
    "account_b",
    "n_targets",
    "n_coactions",
    "first_at",
    "last_at",
    "mean_gap_s",
)
"""Columns of the table :func:`pair_counts` writes, in order."""

_OWNER = "pair_counts"
_log = logging.getLogger(__name__)

JOIN_ROWS_PER_PARTITION = 60_000_000
"""Candidate action pairs per slice when ``partitions`` is chosen automatically: each becomes
at most one group of the per-target hash aggregation; the bound counts both orders and three
buckets, so about a quarter of it survives the join (10M-action benchmark: peak RSS ~2 GB)."""
MAX_PARTITIONS = 256
MAX_CELL = 2000
"""Default ``max_cell``: a target acted on more than 2,000 times within one Δt bucket."""


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(name, _OWNER, f"an integer >= {low}", value)
    return value


def _check_window(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise ConfigError("window", _OWNER, "a number of seconds >= 0, or None", value)
    return float(value)


def pair_counts(
    con: duckdb.DuckDBPyConnection,
    actions: str,
    *,
    window: float | None,
    min_activity: int = 1,
    min_repetitions: int = 1,
    partitions: int | None = None,
    max_cell: int | None = MAX_CELL,
    out: str = "pairs",
) -> str:
    r"""Count co-actions of every pair of accounts, per platform and trace.

    Parameters
    ----------
    con
        DuckDB connection holding ``actions``; ``out`` is (re)created in it.
    actions
        Name of a table or view with the columns of :data:`ACTION_COLUMNS`.
    window
        Δt in seconds (inclusive); None for set overlap (times ignored, e.g. X likes).
    min_activity
        Minimum number of distinct targets an account needs, per platform and trace.
    min_repetitions
        Minimum number of distinct co-acted targets a pair needs to be kept.
    partitions
        Number of slices processed in turn; more slices, less memory, a little more time.
        None (default) chooses it from the data: enough slices that each joins at most
        :data:`JOIN_ROWS_PER_PARTITION` candidate action pairs (see :func:`candidate_rows`).
    max_cell
        Crowd cells with more actions than this do not co-act (step 3b of the definition);
        None counts every pair, however many.
    out
        Name of the table to write (replaced if it exists).

    Returns
    -------
    str
        ``out``, holding the columns of :data:`PAIR_COLUMNS`.

    Raises
    ------
    ConfigError
        When a parameter is out of range.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET TimeZone = 'UTC'")
    >>> _ = con.execute(
    ...     "CREATE TABLE acts AS SELECT * FROM (VALUES "
    ...     "('x','u1','repost','p1',TIMESTAMPTZ '2024-01-01 00:00:00+00','r1'),"
    ...     "('x','u2','repost','p1',TIMESTAMPTZ '2024-01-01 00:00:05+00','r2'),"
    ...     "('x','u3','repost','p1',TIMESTAMPTZ '2024-01-01 00:01:00+00','r3'),"
    ...     "('x','u1','repost','',  TIMESTAMPTZ '2024-01-01 00:00:00+00','r4'),"
    ...     "('x','u2','repost','',  TIMESTAMPTZ '2024-01-01 00:00:00+00','r5')"
    ...     ") t(platform, account_id, trace, target, \"at\", post_id)")
    >>> pair_counts(con, "acts", window=10)
    'pairs'
    >>> con.execute("SELECT account_a, account_b, n_targets, mean_gap_s FROM pairs").fetchall()
    [('u1', 'u2', 1, 5.0)]
    """
    window = _check_window(window)
    min_activity = _check_int("min_activity", min_activity, 1)
    min_repetitions = _check_int("min_repetitions", min_repetitions, 1)
    if partitions is not None:
        partitions = _check_int("partitions", partitions, 1)
    if max_cell is not None:
        max_cell = _check_int("max_cell", max_cell, 2)
    if not isinstance(actions, str) or not actions:
        raise ConfigError("actions", _OWNER, "the name of a table or view", actions)
    if not isinstance(out, str) or not out:
        raise ConfigError("out", _OWNER, "a table name", out)

    tag = secrets.token_hex(4)
    act = quote_ident(f"_fs_pc_act_{tag}")
    ids = quote_ident(f"_fs_pc_ids_{tag}")
    pts = quote_ident(f"_fs_pc_pts_{tag}")
    part = quote_ident(f"_fs_pc_part_{tag}")
    out_q = quote_ident(out)
    timed = window is not None
    try:
        _prepare(con, quote_ident(actions), act, ids, pts, timed, min_activity)
        if max_cell is not None:
            _drop_crowd_cells(con, act, window, max_cell)
        con.execute(
            f"CREATE TEMP TABLE {part} (pt INTEGER, k BIGINT, n_targets BIGINT, "
            "n_coactions BIGINT, first_at TIMESTAMPTZ, last_at TIMESTAMPTZ, gap_us_sum HUGEINT)"
        )
        if partitions is None:
            rows = candidate_rows(con, act, window)
            partitions = max(1, min(MAX_PARTITIONS, math.ceil(rows / JOIN_ROWS_PER_PARTITION)))
            _log.info("pair_counts: %d candidate rows, %d partitions", rows, partitions)
        for p in range(partitions):
            con.execute(_partition_sql(act, part, window, partitions, p, min_repetitions))
        con.execute(
            f"CREATE OR REPLACE TABLE {out_q} AS "
            "SELECT p.platform, p.trace, a.account_id AS account_a, b.account_id AS account_b, "
            "q.n_targets, q.n_coactions, q.first_at, q.last_at, "
            + (
                "CAST(q.gap_us_sum AS DOUBLE) / q.n_coactions / 1e6 AS mean_gap_s "
                if timed
                else "CAST(NULL AS DOUBLE) AS mean_gap_s "
            )
            + f"FROM {part} q JOIN {pts} p ON p.pt = q.pt "
            f"JOIN {ids} a ON a.aid = (q.k >> 32) "
            f"JOIN {ids} b ON b.aid = (q.k & 4294967295)"
        )
    finally:
        for t in (
            act,
            ids,
            pts,
            part,
            quote_ident(f"_fs_pc_act_{tag}_raw"),
            quote_ident(f"_fs_pc_act_{tag}_tgt"),
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return out


def _cell(window: float | None) -> str:
    if window is None:
        return "pt, tid"
    return f"pt, tid, us // {max(1, round(window * 1e6))}"


def _drop_crowd_cells(
    con: duckdb.DuckDBPyConnection, act: str, window: float | None, max_cell: int
) -> None:
    """Remove the actions of crowd cells from the join input (activity is already counted)."""
    cell = _cell(window)
    con.execute(
        f"DELETE FROM {act} WHERE ({cell}) IN (SELECT ({cell}) FROM {act} "
        f"GROUP BY ALL HAVING count(*) > {int(max_cell)})"
    )


def candidate_rows(con: duckdb.DuckDBPyConnection, act: str, window: float | None) -> int:
    """Upper bound on the action pairs the join of :func:`pair_counts` produces (both orders).

    Timed: sum over (platform/trace, target, time bucket) cells of ``c * (c_prev + c + c_next)``
    with buckets of width Δt; set overlap: sum over targets of ``c**2``.
    """
    if window is None:
        sql = f"SELECT sum(c * c) FROM (SELECT count(*) AS c FROM {act} GROUP BY pt, tid)"
    else:
        width = max(1, round(window * 1e6))
        sql = (
            f"WITH b AS (SELECT pt, tid, us // {width} AS bk, count(*) AS c FROM {act} "
            "GROUP BY ALL) "
            "SELECT sum(x.c * y.c) FROM (SELECT pt, tid, bk + d AS bk, c FROM b, "
            "(VALUES (-1), (0), (1)) v(d)) x JOIN b y USING (pt, tid, bk)"
        )
    row = first_row(con.execute(sql))
    return int(row[0] or 0) if row else 0


def _prepare(
    con: duckdb.DuckDBPyConnection,
    src: str,
    act: str,
    ids: str,
    pts: str,
    timed: bool,
    min_activity: int,
) -> None:
    """Keep the rows that take part, re-keyed on dense integers.

    Writes ``act`` (pt, aid, tid, at, us), ``ids`` (aid, account_id) and ``pts`` (pt,
    platform, trace).
    """
    time_filter = 'AND "at" IS NOT NULL' if timed else ""
    raw = quote_ident(f"{act[1:-1]}_raw")
    tgt = quote_ident(f"{act[1:-1]}_tgt")
    con.execute(
        f"CREATE TEMP TABLE {raw} AS "
        "WITH src AS ("
        "  SELECT CAST(platform AS VARCHAR) AS platform, CAST(trace AS VARCHAR) AS trace, "
        "         CAST(account_id AS VARCHAR) AS account_id, CAST(target AS VARCHAR) AS target, "
        '         CAST("at" AS TIMESTAMPTZ) AS "at" '
        f"  FROM {src} "
        f"  WHERE target IS NOT NULL AND target <> '' AND account_id IS NOT NULL {time_filter}"
        "), active AS ("
        "  SELECT platform, trace, account_id FROM src GROUP BY ALL "
        "  HAVING count(DISTINCT target) >= ?"
        ") "
        'SELECT s.platform, s.trace, s.account_id, s.target, s."at" '
        "FROM src s SEMI JOIN active a "
        "  ON s.platform = a.platform AND s.trace = a.trace AND s.account_id = a.account_id",
        [min_activity],
    )
    # Dense account ids follow (platform, account_id) order, so that within one platform the
    # integer order is the binary string order the definition asks for. Target and
    # (platform, trace) ids are internal: any numbering will do.
    con.execute(
        f"CREATE TEMP TABLE {ids} AS "
        "SELECT CAST(row_number() OVER (ORDER BY platform, account_id) - 1 AS BIGINT) AS aid, "
        f"       platform, account_id FROM (SELECT DISTINCT platform, account_id FROM {raw})"
    )
    con.execute(
        f"CREATE TEMP TABLE {pts} AS SELECT CAST(row_number() OVER () AS INTEGER) AS pt, "
        f"platform, trace FROM (SELECT DISTINCT platform, trace FROM {raw})"
    )
    con.execute(
        f"CREATE TEMP TABLE {tgt} AS SELECT CAST(row_number() OVER () AS BIGINT) AS tid, "
        f"target FROM (SELECT DISTINCT target FROM {raw})"
    )
    con.execute(
        f"CREATE TEMP TABLE {act} AS "
        'SELECT p.pt, i.aid, t.tid, r."at", epoch_us(r."at") AS us '
        f"FROM {raw} r JOIN {pts} p ON r.platform = p.platform AND r.trace = p.trace "
        f"JOIN {ids} i ON r.platform = i.platform AND r.account_id = i.account_id "
        f"JOIN {tgt} t ON r.target = t.target"
    )
    con.execute(f"DROP TABLE {raw}")
    con.execute(f"DROP TABLE {tgt}")


def _partition_sql(
    act: str, part: str, window: float | None, partitions: int, index: int, min_repetitions: int
) -> str:
    """SQL for one slice (``aid_a % partitions = index``), appending aggregated pairs into
    ``part``. The integers are inlined, not bound: DuckDB plans the join far better (a bound
    parameter in the slice filter made each slice ~8x slower)."""
    partitions, index, min_repetitions = int(partitions), int(index), int(min_repetitions)
    if window is None:
        join = (
            f"FROM {act} a JOIN {act} b ON a.pt = b.pt AND a.tid = b.tid AND a.aid < b.aid "
            f"WHERE a.aid % {partitions} = {index}"
        )
        first = "CAST(NULL AS TIMESTAMPTZ)"
        gap = "CAST(0 AS BIGINT)"
    else:
        w_us = round(window * 1e6)
        width = max(1, w_us)
        # Left side expanded to buckets b-1, b, b+1: every partner within w_us lies in one of
        # them, and the join stays an equi-join on (pt, tid, bucket).
        join = (
            f'FROM (SELECT pt, aid, tid, "at", us, us // {width} + d AS bk '
            f"      FROM {act}, (VALUES (-1), (0), (1)) v(d) WHERE aid % {partitions} = {index}) a "
            f'JOIN (SELECT pt, aid, tid, "at", us, us // {width} AS bk FROM {act}) b '
            "  ON a.pt = b.pt AND a.tid = b.tid AND a.bk = b.bk AND a.aid < b.aid "
            f"WHERE abs(a.us - b.us) <= {w_us}"
        )
        first = 'least(a."at", b."at")'
        gap = "abs(a.us - b.us)"
    return (
        f"INSERT INTO {part} "
        "WITH per_target AS ("
        f"  SELECT a.pt, (a.aid << 32) | b.aid AS k, a.tid, count(*) AS n, "
        f"         min({first}) AS f, max({first}) AS l, sum({gap}) AS g "
        f"  {join} "
        "  GROUP BY 1, 2, 3"
        ") "
        "SELECT pt, k, count(*) AS n_targets, sum(n) AS n_coactions, min(f), max(l), sum(g) "
        f"FROM per_target GROUP BY pt, k HAVING count(*) >= {min_repetitions}"
    )
