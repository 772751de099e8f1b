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
   Who is *in* the crowd cells is checked separately (``crowd_out``: crowd co-membership,
   accounts in the crowds of at least ``max(min_repetitions, 2)`` distinct targets
   together).
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
50,000². The work is split into ``partitions`` slices by the lower account id (per platform
and trace) and the slices run one after the other, which bounds the size of each hash
aggregation.

Before the join, actions that cannot be part of a kept pair are dropped (exactly, the
output does not change): an action whose previous and next action on the target are both
more than Δt away, and accounts left with fewer than ``min_repetitions`` targets (two
rounds). Co-action rows of accounts that acted once on the target skip the per-target
aggregation.

That is the SQL path. Where a compiled kernel is installed (:mod:`fimiscope.coordination._kernel`:
the C extension, else numba), the same rows come from it instead, on arrays fetched once
from DuckDB; the tests hold every engine to the SQL path row for row.

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
import numpy as np

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
    crowd_out: str | None = None,
    crowd_members_out: str | None = None,
    kernel: bool = True,
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
    crowd_out
        When given (and ``max_cell`` is not None), also write the *crowd co-membership* pairs
        here (see :func:`_crowd_pairs`): columns of :data:`PAIR_COLUMNS`, trace
        ``<trace>_crowd``, ``n_targets`` = ``n_coactions`` = distinct targets in whose crowd
        cells both accounts were (not necessarily the same bucket), times NULL; pairs below
        ``max(min_repetitions, 2)`` are dropped.
    kernel
        Use a compiled kernel (:mod:`fimiscope.coordination._kernel`) when one is installed,
        instead of the SQL join and hash aggregation; the rows are the same. The C extension
        (built by ``pip install`` where a C compiler is at hand) comes first, then numba (the
        ``fast`` extra). ``FIMISCOPE_PAIR_KERNEL=c``, ``numba`` or ``sql`` in the environment
        forces one. ``pair_counts.last_engine`` says which ran: ``"c"``, ``"numba"`` or
        ``"sql"``.
    crowd_members_out
        When given, also write every crowd member: ``platform, account_id, trace, target``
        (trace ``<trace>_crowd``, one row per account and crowd target) -- the input of the
        popularity null for crowd pairs.

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
    crowd = quote_ident(f"_fs_pc_crowd_{tag}")
    tgt = quote_ident(f"_fs_pc_act_{tag}_tgt")
    out_q = quote_ident(out)
    timed = window is not None
    for name in (crowd_out, crowd_members_out):
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError("crowd_out", _OWNER, "a table name, or None", name)
    if max_cell is None:
        for name in (crowd_out, crowd_members_out):
            if name is not None:
                con.execute(
                    f"CREATE OR REPLACE TABLE {quote_ident(name)} AS SELECT "
                    + (
                        "CAST(NULL AS VARCHAR) AS platform, CAST(NULL AS VARCHAR) AS account_id, "
                        "CAST(NULL AS VARCHAR) AS trace, CAST(NULL AS VARCHAR) AS target "
                        if name == crowd_members_out
                        else _EMPTY_PAIRS
                    )
                    + "WHERE false"
                )
    from fimiscope.coordination import _kernel

    engine = _kernel.engine() if kernel else None
    if engine is not None:
        _kernel.preload()  # numba only: its import and cache load overlap the encoding below
        pair_counts.last_partitions = None  # type: ignore[attr-defined]
        pair_counts.last_engine = engine  # type: ignore[attr-defined]
        try:
            _kernel_path(
                con,
                quote_ident(actions),
                out,
                window=window,
                min_activity=min_activity,
                min_repetitions=min_repetitions,
                max_cell=max_cell,
                crowd_out=crowd_out,
                crowd_members_out=crowd_members_out,
                engine=engine,
                tables=(ids, pts, crowd, tgt),
            )
        finally:
            for t in (ids, pts, crowd, tgt):
                con.execute(f"DROP TABLE IF EXISTS {t}")
        return out
    try:
        _prepare(con, quote_ident(actions), act, ids, pts, timed, min_activity)
        if max_cell is not None:
            _drop_crowd_cells(con, act, window, max_cell, crowd)
            if crowd_out is not None:
                _crowd_pairs(con, crowd, ids, pts, min_repetitions, crowd_out)
            if crowd_members_out is not None:
                _crowd_members(con, crowd, ids, pts, tgt, crowd_members_out)
        _prune(con, act, window, min_repetitions)
        con.execute(
            f"CREATE TEMP TABLE {part} (pt INTEGER, k BIGINT, n_targets BIGINT, "
            "n_coactions BIGINT, first_us BIGINT, last_us BIGINT, gap_us_sum HUGEINT)"
        )
        pt_ids = [
            r[0] for r in con.execute(f"SELECT DISTINCT pt FROM {act} ORDER BY pt").fetchall()
        ]
        if partitions is None:
            rows = candidate_rows(con, act, window)
            partitions = max(1, min(MAX_PARTITIONS, math.ceil(rows / JOIN_ROWS_PER_PARTITION)))
            _log.info("pair_counts: %d candidate rows, %d partitions", rows, partitions)
        pair_counts.last_partitions = partitions  # type: ignore[attr-defined]
        pair_counts.last_engine = "sql"  # type: ignore[attr-defined]
        for pt in pt_ids:
            for p in range(partitions):
                con.execute(_partition_sql(act, part, window, pt, partitions, p, min_repetitions))
        ts = "timezone('UTC', make_timestamp({}))"
        con.execute(
            f"CREATE OR REPLACE TABLE {out_q} AS "
            "SELECT p.platform, p.trace, a.account_id AS account_a, b.account_id AS account_b, "
            "q.n_targets, q.n_coactions, "
            + (
                f"{ts.format('q.first_us')} AS first_at, {ts.format('q.last_us')} AS last_at, "
                "CAST(q.gap_us_sum AS DOUBLE) / q.n_coactions / 1e6 AS mean_gap_s "
                if timed
                else "CAST(NULL AS TIMESTAMPTZ) AS first_at, CAST(NULL AS TIMESTAMPTZ) AS last_at, "
                "CAST(NULL AS DOUBLE) AS mean_gap_s "
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
            crowd,
            tgt,
            quote_ident(f"_fs_pc_act_{tag}_raw"),
            quote_ident(f"_fs_pc_act_{tag}_nb"),
        ):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return out


def _kernel_path(
    con: duckdb.DuckDBPyConnection,
    src: str,
    out: str,
    *,
    window: float | None,
    min_activity: int,
    min_repetitions: int,
    max_cell: int | None,
    crowd_out: str | None,
    crowd_members_out: str | None,
    engine: str,
    tables: tuple[str, str, str, str],
) -> None:
    """The pair step with a compiled kernel (:mod:`fimiscope.coordination._kernel`): the rows
    that take part are fetched once and encoded in Arrow and numpy (:func:`_encode`), each
    (platform, trace) goes through :func:`~fimiscope.coordination._kernel.pair_aggregates`
    (activity filter, crowd cells, prefilter and pairs on the arrays in memory), and ``out``
    is written in one go (:func:`_write_pairs`). DuckDB sees only the output and, when
    ``crowd_out`` / ``crowd_members_out`` ask for them, the crowd members (few), for the
    crowd SQL that the SQL path runs too."""
    from fimiscope.coordination._kernel import pair_aggregates

    timed = window is not None
    w_us = None if window is None else round(window * 1e6)
    row = first_row(con.execute("SELECT current_setting('threads')"))
    threads = max(1, int(row[0])) if row else 1
    names, groups = _encode(con, src, timed, threads)
    pieces, crowds = [], []
    for pt, (aid, tid, us) in enumerate(groups, start=1):
        res = pair_aggregates(
            aid,
            tid,
            us,
            window_us=w_us,
            min_repetitions=min_repetitions,
            threads=threads,
            min_activity=min_activity,
            max_cell=max_cell,
            cell_us=max(1, w_us or 0),
            n_targets=len(names["targets"]),
            engine=engine,
        )
        del aid, tid, us
        if max_cell is not None and len(res["crowd_aid"]):
            crowds.append((pt, res["crowd_aid"], res["crowd_tid"], res["crowd_bk"]))
        if len(res["a"]):
            pieces.append((pt, res))
    _write_pairs(con, out, names, pieces, timed)
    del pieces
    if max_cell is not None and (crowd_out is not None or crowd_members_out is not None):
        _crowd_outputs(con, names, crowds, tables, min_repetitions, crowd_out, crowd_members_out)


def _write_pairs(
    con: duckdb.DuckDBPyConnection, out: str, names: dict, pieces: list, timed: bool
) -> None:
    """Write ``out`` (:data:`PAIR_COLUMNS`) from the kernel's arrays of each pt, as one Arrow
    table: strings as dictionary arrays over the names (DuckDB expands them), times as
    zero-copy timestamp views, the mean gap computed as SQL would (double / double)."""
    import pyarrow as pa

    def cat(key: str) -> np.ndarray:
        if not pieces:
            return np.empty(0, np.int64)
        if len(pieces) == 1:
            return np.ascontiguousarray(pieces[0][1][key])
        return np.concatenate([r[key] for _, r in pieces])

    pt = np.concatenate([np.full(len(r["a"]), p - 1, np.int32) for p, r in pieces] or [[]])
    pt_list = list(names["pts"].values())

    def strings(idx: np.ndarray, values) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32, copy=False)), values)

    nc = cat("n_coactions")
    cols = {
        "platform": strings(pt, pa.array([v[0] for v in pt_list], pa.string())),
        "trace": strings(pt, pa.array([v[1] for v in pt_list], pa.string())),
        "account_a": strings(cat("a"), names["accounts"]),
        "account_b": strings(cat("b"), names["accounts"]),
        "n_targets": cat("n_targets"),
        "n_coactions": nc,
    }
    tsu = pa.timestamp("us", tz="UTC")
    if timed:
        cols["first_at"] = pa.array(cat("first_us")).view(tsu)
        cols["last_at"] = pa.array(cat("last_us")).view(tsu)
        cols["mean_gap_s"] = cat("gap_us").astype(np.float64) / nc / 1e6
    else:
        cols["first_at"] = pa.nulls(len(nc), tsu)
        cols["last_at"] = pa.nulls(len(nc), tsu)
        cols["mean_gap_s"] = pa.nulls(len(nc), pa.float64())
    _from_arrow(
        con,
        pa.table(cols),
        f"CREATE OR REPLACE TABLE {quote_ident(out)} AS SELECT "
        "CAST(platform AS VARCHAR) AS platform, CAST(trace AS VARCHAR) AS trace, "
        "CAST(account_a AS VARCHAR) AS account_a, CAST(account_b AS VARCHAR) AS account_b, "
        "n_targets, n_coactions, CAST(first_at AS TIMESTAMPTZ) AS first_at, "
        "CAST(last_at AS TIMESTAMPTZ) AS last_at, CAST(mean_gap_s AS DOUBLE) AS mean_gap_s "
        "FROM {}",
    )


def _from_arrow(con: duckdb.DuckDBPyConnection, data, sql: str) -> None:
    """Run ``sql`` (``{}`` standing for the table) on an Arrow table registered for the call."""
    name = f"_fs_pc_arrow_{secrets.token_hex(4)}"
    con.register(name, data)
    try:
        con.execute(sql.format(quote_ident(name)))
    finally:
        con.unregister(name)


def _crowd_outputs(
    con: duckdb.DuckDBPyConnection,
    names: dict,
    crowds: list,
    tables: tuple[str, str, str, str],
    min_repetitions: int,
    crowd_out: str | None,
    crowd_members_out: str | None,
) -> None:
    """``crowd_out`` / ``crowd_members_out`` of the kernel path: the crowd members the kernel
    set apart become the ``crowd`` (pt, aid, tid, bk), ``ids``, ``pts`` and ``tgt`` tables
    of the SQL path (only the accounts and targets of crowds), then the same SQL runs."""
    import pyarrow as pa

    ids, pts, crowd, tgt = tables
    cat = (lambda k: np.concatenate([c[k] for c in crowds])) if crowds else None
    pt = (
        np.concatenate([np.full(len(c[1]), c[0], np.int32) for c in crowds])
        if crowds
        else np.empty(0, np.int32)
    )
    aid = cat(1) if cat else np.empty(0, np.int64)
    tid = cat(2) if cat else np.empty(0, np.int64)
    bk = cat(3) if cat else np.empty(0, np.int64)
    _from_arrow(
        con,
        pa.table({"pt": pt, "aid": aid, "tid": tid, "bk": bk}),
        f"CREATE TEMP TABLE {crowd} AS SELECT DISTINCT * FROM {{}}",
    )
    used_a, used_t = np.unique(aid), np.unique(tid)
    _from_arrow(
        con,
        pa.table(
            {
                "aid": used_a,
                "platform": names["platforms"].take(names["account_platform"][used_a]),
                "account_id": names["accounts"].take(used_a),
            }
        ),
        f"CREATE TEMP TABLE {ids} AS SELECT * FROM {{}}",
    )
    _from_arrow(
        con,
        pa.table({"tid": used_t, "target": names["targets"].take(used_t)}),
        f"CREATE TEMP TABLE {tgt} AS SELECT * FROM {{}}",
    )
    pt_names = names["pts"]
    _from_arrow(
        con,
        pa.table(
            {
                "pt": pa.array(list(pt_names), pa.int32()),
                "platform": pa.array([v[0] for v in pt_names.values()], pa.string()),
                "trace": pa.array([v[1] for v in pt_names.values()], pa.string()),
            }
        ),
        f"CREATE TEMP TABLE {pts} AS SELECT * FROM {{}}",
    )
    if crowd_out is not None:
        _crowd_pairs(con, crowd, ids, pts, min_repetitions, crowd_out)
    if crowd_members_out is not None:
        _crowd_members(con, crowd, ids, pts, tgt, crowd_members_out)


def _crowd_members(
    con: duckdb.DuckDBPyConnection, crowd: str, ids: str, pts: str, tgt: str, out: str
) -> None:
    """``crowd_members_out``: one row per account and crowd target (trace ``<trace>_crowd``)."""
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
        "SELECT p.platform, i.account_id, p.trace || '_crowd' AS trace, "
        f"t.target FROM {crowd} c JOIN {pts} p ON p.pt = c.pt "
        f"JOIN {ids} i ON i.aid = c.aid JOIN {tgt} t ON t.tid = c.tid"
    )


def _dense(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for keys in ``[0, size)``; a lookup table when
    ``size`` is small next to ``len(key)``, a sort otherwise."""
    if size <= 4 * len(key) + 1024:
        present = np.zeros(size, np.bool_)
        present[key] = True
        uniq = np.flatnonzero(present)
        remap = np.cumsum(present, dtype=np.int64) - 1
        return uniq, remap[key]
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq, inv.astype(np.int64, copy=False)


def _codes(col) -> tuple:
    """Dictionary codes (int64 numpy) and the dictionary of a string column."""
    enc = col.combine_chunks().dictionary_encode()
    return np.asarray(enc.indices).astype(np.int64, copy=False), enc.dictionary


def _ranked_codes(col) -> tuple:
    """:func:`_codes` of the account ids, with a function from dictionary positions to their
    strings (Arrow), the ranks in binary string order and the inverse permutation
    (dictionary positions in that order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, values = _codes(col)
    order = np.asarray(pc.sort_indices(values)).astype(np.int64)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return codes, (lambda idx: values.take(pa.array(idx))), rank, order


def _encode(
    con: duckdb.DuckDBPyConnection, src: str, timed: bool, threads: int
) -> tuple[dict, list]:
    """The rows that take part (step 1 of the definition), fetched once and encoded in Arrow
    and numpy: accounts, targets and (platform, trace) become dense integers by dictionary
    encoding (accounts and targets on two threads), account ids in (platform, account_id)
    binary string order, as in :func:`_prepare`. The
    (platform, trace) pairs come first from a ``DISTINCT`` query: with one of them (the usual
    case) no platform or trace string is fetched at all; with several, a join numbers them in
    DuckDB.

    Returns the names -- ``accounts`` (aid -> account_id), ``account_platform`` (aid ->
    position in ``platforms``), ``platforms``, ``targets`` (tid -> target), ``pts`` (pt ->
    (platform, trace)), pt from 1 -- and, per pt in that order, the arrays ``(aid, tid,
    us)`` (``us`` None in set overlap)."""
    import pyarrow as pa

    # NULL platform or trace never matches in the joins of _prepare: such rows take no part
    where = (
        "WHERE target IS NOT NULL AND target <> '' AND account_id IS NOT NULL "
        "AND platform IS NOT NULL AND trace IS NOT NULL"
        + (' AND "at" IS NOT NULL' if timed else "")
    )
    pt_names = sorted(
        con.execute(
            f"SELECT DISTINCT CAST(platform AS VARCHAR), CAST(trace AS VARCHAR) FROM {src} {where}"
        ).fetchall()
    )
    platforms = sorted({p for p, _ in pt_names})
    cols = "CAST(s.account_id AS VARCHAR) AS account_id, CAST(s.target AS VARCHAR) AS target" + (
        ', epoch_us(CAST(s."at" AS TIMESTAMPTZ)) AS us' if timed else ""
    )
    if len(pt_names) <= 1:
        rows = con.sql(f"SELECT {cols} FROM {src} s {where}").to_arrow_table()
        pt = None
    else:
        view = f"_fs_pc_pts_{secrets.token_hex(4)}"
        con.register(
            view,
            pa.table(
                {
                    "pt": pa.array(range(1, len(pt_names) + 1), pa.int32()),
                    "platform": [p for p, _ in pt_names],
                    "trace": [t for _, t in pt_names],
                }
            ),
        )
        try:
            rows = con.sql(
                f"SELECT p.pt, {cols} FROM (SELECT * FROM {src} {where}) s "
                f"JOIN {quote_ident(view)} p ON CAST(s.platform AS VARCHAR) = p.platform "
                "AND CAST(s.trace AS VARCHAR) = p.trace"
            ).to_arrow_table()
        finally:
            con.unregister(view)
        pt = rows.column("pt").to_numpy()
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(_codes, rows.column("target"))
            acc, acc_names, a_rank, a_order = _ranked_codes(rows.column("account_id"))
            tid, targets = fut.result()
    else:
        acc, acc_names, a_rank, a_order = _ranked_codes(rows.column("account_id"))
        tid, targets = _codes(rows.column("target"))
    us = rows.column("us").to_numpy() if timed else None
    del rows
    n_acc_dict = max(1, len(a_order))
    if len(platforms) <= 1:  # every dictionary entry occurs: the ranks are dense ids
        aid = a_rank[acc]
        a_acc, a_plat = a_order, np.zeros(len(a_order), np.int64)
    else:
        plat_of_pt = np.array([0] + [platforms.index(p) for p, _ in pt_names], np.int64)
        a_keys, aid = _dense(plat_of_pt[pt] * n_acc_dict + a_rank[acc], len(platforms) * n_acc_dict)
        a_acc, a_plat = a_order[a_keys % n_acc_dict], a_keys // n_acc_dict
    names = {
        "accounts": acc_names(a_acc),
        "account_platform": a_plat,
        "platforms": pa.array(platforms, pa.string()),
        "targets": targets,
        "pts": {i + 1: v for i, v in enumerate(pt_names)},
    }
    if pt is None:
        return names, [(aid, tid, us)] if pt_names else []
    order = np.argsort(pt, kind="stable")
    cuts = np.searchsorted(pt[order], np.arange(2, len(pt_names) + 1))
    groups = [(aid[o], tid[o], us[o] if us is not None else None) for o in np.split(order, cuts)]
    return names, groups


def _prune(
    con: duckdb.DuckDBPyConnection, act: str, window: float | None, min_repetitions: int
) -> None:
    """Drop actions that cannot be part of a kept pair; the output does not change.

    An action can only co-act when its cell (platform/trace, target) holds an action of
    another account within Δt: in time order, its previous or next action on the target is
    at most Δt away (set overlap: some other account acted on the target). And an account
    needs at least ``min_repetitions`` distinct targets with such actions to reach
    ``min_repetitions`` with anybody. Two rounds: the second catches actions whose only
    neighbour belonged to an account the first round dropped. Each action also gets
    ``dup``: its account acted more than once on the target (only those pairs need the
    per-target aggregation of :func:`_partition_sql`).
    """
    nb = quote_ident(f"{act[1:-1]}_nb")
    if window is None:
        near = "min(aid) OVER w <> max(aid) OVER w"
        win = "WINDOW w AS (PARTITION BY pt, tid)"
    else:
        w_us = round(window * 1e6)
        near = (
            f"coalesce(us - lag(us) OVER w <= {w_us}, false) "
            f"OR coalesce(lead(us) OVER w - us <= {w_us}, false)"
        )
        win = "WINDOW w AS (PARTITION BY pt, tid ORDER BY us)"
    for _ in range(2):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {nb} AS SELECT pt, aid, tid, us FROM ("
            f"  SELECT pt, aid, tid, us, {near} AS ok FROM {act} {win}"
            ") WHERE ok"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {act} AS SELECT n.* FROM {nb} n SEMI JOIN ("
            f"  SELECT pt, aid FROM {nb} GROUP BY ALL "
            f"  HAVING count(DISTINCT tid) >= {int(min_repetitions)}"
            ") k ON n.pt = k.pt AND n.aid = k.aid"
        )
    con.execute(f"DROP TABLE {nb}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {act} AS SELECT pt, aid, tid, us, "
        f"count(*) OVER (PARTITION BY pt, aid, tid) > 1 AS dup FROM {act}"
    )


def _cell(window: float | None) -> str:
    if window is None:
        return "pt, tid"
    return f"pt, tid, us // {max(1, round(window * 1e6))}"


def _drop_crowd_cells(
    con: duckdb.DuckDBPyConnection, act: str, window: float | None, max_cell: int, crowd: str
) -> None:
    """Move the actions of crowd cells out of the join input (activity is already counted);
    ``crowd`` keeps who was in them: one row per (pt, aid, tid, cell)."""
    cell = _cell(window)
    con.execute(
        f"CREATE TEMP TABLE {crowd} AS SELECT DISTINCT pt, aid, tid, "
        + ("0" if window is None else f"us // {max(1, round(window * 1e6))}")
        + f" AS bk FROM {act} WHERE ({cell}) IN (SELECT ({cell}) FROM {act} "
        f"GROUP BY ALL HAVING count(*) > {int(max_cell)})"
    )
    if first_row(con.execute(f"SELECT count(*) FROM {crowd}"))[0]:  # type: ignore[index]
        con.execute(
            f"DELETE FROM {act} WHERE ({cell}) IN (SELECT ({cell}) FROM {act} "
            f"GROUP BY ALL HAVING count(*) > {int(max_cell)})"
        )


_EMPTY_PAIRS = (
    "CAST(NULL AS VARCHAR) AS platform, CAST(NULL AS VARCHAR) AS trace, "
    "CAST(NULL AS VARCHAR) AS account_a, CAST(NULL AS VARCHAR) AS account_b, "
    "CAST(NULL AS BIGINT) AS n_targets, CAST(NULL AS BIGINT) AS n_coactions, "
    "CAST(NULL AS TIMESTAMPTZ) AS first_at, CAST(NULL AS TIMESTAMPTZ) AS last_at, "
    "CAST(NULL AS DOUBLE) AS mean_gap_s "
)


CROWD_MIN_TARGETS = 2
"""Crowd co-membership needs at least this many shared crowd targets, whatever
``min_repetitions`` says: being in one crowd together is exactly what step 3b calls no
evidence, and counting it would cost the ``max_cell**2`` pairs the crowd rule avoids."""


def _crowd_pairs(
    con: duckdb.DuckDBPyConnection,
    crowd: str,
    ids: str,
    pts: str,
    min_repetitions: int,
    out: str,
) -> None:
    """Co-membership in crowd cells: pairs of accounts that were in the crowds of at least
    ``max(min_repetitions, CROWD_MIN_TARGETS)`` distinct targets together.

    Bounded memory: only accounts in the crowds of at least that many distinct targets are
    paired (one viral post reposted 50,000 times pairs nobody: nobody is in two of its
    crowds), targets left with a single such account are dropped, and the pairing runs
    in slices by the lower account (``aid % P``) with ``P`` chosen so that each slice joins at
    most :data:`JOIN_ROWS_PER_PARTITION` member pairs (estimated as the sum over targets of
    the squared number of kept members), each slice keeping only its pairs that reach
    ``min_repetitions``.
    """
    mr = max(int(min_repetitions), CROWD_MIN_TARGETS)
    mem = quote_ident(f"{crowd[1:-1]}_m")
    res = quote_ident(f"{crowd[1:-1]}_r")
    try:
        con.execute(f"CREATE TEMP TABLE {mem} AS SELECT DISTINCT pt, aid, tid FROM {crowd}")
        for _ in range(2):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {mem} AS SELECT m.* FROM {mem} m SEMI JOIN ("
                f"  SELECT pt, aid FROM {mem} GROUP BY ALL HAVING count(*) >= {mr}"
                ") k ON m.pt = k.pt AND m.aid = k.aid SEMI JOIN ("
                f"  SELECT pt, tid FROM {mem} GROUP BY ALL HAVING count(*) >= 2"
                ") t ON m.pt = t.pt AND m.tid = t.tid"
            )
        row = first_row(
            con.execute(f"SELECT sum(c * c) FROM (SELECT count(*) AS c FROM {mem} GROUP BY ALL)")
        )
        rows = int(row[0] or 0) if row else 0
        parts = max(1, min(MAX_PARTITIONS, math.ceil(rows / JOIN_ROWS_PER_PARTITION)))
        con.execute(f"CREATE TEMP TABLE {res} (pt INTEGER, k BIGINT, n BIGINT)")
        for p in range(parts):
            slice_ = f"AND a.aid % {parts} = {p}" if parts > 1 else ""
            con.execute(
                f"INSERT INTO {res} SELECT a.pt, (a.aid << 32) | b.aid AS k, count(*) "
                f"FROM {mem} a JOIN {mem} b "
                f"ON a.pt = b.pt AND a.tid = b.tid AND a.aid < b.aid {slice_} "
                f"GROUP BY 1, 2 HAVING count(*) >= {mr}"
            )
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
            "SELECT p.platform, p.trace || '_crowd' AS trace, a.account_id AS account_a, "
            "b.account_id AS account_b, q.n AS n_targets, q.n AS n_coactions, "
            "CAST(NULL AS TIMESTAMPTZ) AS first_at, CAST(NULL AS TIMESTAMPTZ) AS last_at, "
            f"CAST(NULL AS DOUBLE) AS mean_gap_s FROM {res} q JOIN {pts} p ON p.pt = q.pt "
            f"JOIN {ids} a ON a.aid = (q.k >> 32) JOIN {ids} b ON b.aid = (q.k & 4294967295)"
        )
        pair_counts.last_crowd_rows = rows  # type: ignore[attr-defined]
    finally:
        con.execute(f"DROP TABLE IF EXISTS {mem}")
        con.execute(f"DROP TABLE IF EXISTS {res}")


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

    Writes ``act`` (pt, aid, tid, us), ``ids`` (aid, account_id), ``pts`` (pt,
    platform, trace) and ``<act>_tgt`` (tid, target).
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
        'SELECT p.pt, i.aid, t.tid, epoch_us(r."at") AS us '
        f"FROM {raw} r JOIN {pts} p ON r.platform = p.platform AND r.trace = p.trace "
        f"JOIN {ids} i ON r.platform = i.platform AND r.account_id = i.account_id "
        f"JOIN {tgt} t ON r.target = t.target"
    )
    con.execute(f"DROP TABLE {raw}")


def _partition_sql(
    act: str,
    part: str,
    window: float | None,
    pt: int,
    partitions: int,
    index: int,
    min_repetitions: int,
) -> str:
    """SQL for one slice (one platform/trace ``pt``, ``aid_a % partitions = index``),
    appending aggregated pairs into ``part``.

    Co-action rows of accounts that acted once on the target (``dup`` false on both sides)
    are already one row per (pair, target) and go straight to the per-pair aggregation; only
    the others are first grouped per (pair, target). The integers are inlined, not bound:
    DuckDB plans the join far better (a bound parameter in the slice filter made each slice
    ~8x slower)."""
    pt, partitions, index = int(pt), int(partitions), int(index)
    min_repetitions = int(min_repetitions)
    slice_ = f"pt = {pt}" + (f" AND aid % {partitions} = {index}" if partitions > 1 else "")
    if window is None:
        join = (
            f"FROM (SELECT aid, tid, us, dup FROM {act} WHERE {slice_}) a "
            f"JOIN (SELECT aid, tid, us, dup FROM {act} WHERE pt = {pt}) b "
            "ON a.tid = b.tid AND a.aid < b.aid"
        )
        first = "CAST(NULL AS BIGINT)"
        gap = "CAST(0 AS BIGINT)"
    else:
        w_us = round(window * 1e6)
        width = max(1, w_us)
        # Left side expanded to buckets b-1, b, b+1: every partner within w_us lies in one of
        # them, and the join stays an equi-join on (target, bucket).
        join = (
            f"FROM (SELECT aid, tid, us, dup, us // {width} + d AS bk "
            f"      FROM {act}, (VALUES (-1), (0), (1)) v(d) WHERE {slice_}) a "
            f"JOIN (SELECT aid, tid, us, dup, us // {width} AS bk FROM {act} WHERE pt = {pt}) b "
            "  ON a.tid = b.tid AND a.bk = b.bk AND a.aid < b.aid "
            f"WHERE abs(a.us - b.us) <= {w_us}"
        )
        first = "least(a.us, b.us)"
        gap = "abs(a.us - b.us)"
    return (
        f"INSERT INTO {part} "
        "WITH j AS ("
        f"  SELECT (a.aid << 32) | b.aid AS k, a.tid, a.dup OR b.dup AS dup, "
        f"         {first} AS f, {gap} AS g {join}"
        "), per_target AS ("
        "  SELECT k, count(*) AS n, min(f) AS f, max(f) AS l, sum(g) AS g FROM j "
        "  WHERE dup GROUP BY k, tid "
        "  UNION ALL "
        "  SELECT k, 1, f, f, g FROM j WHERE NOT dup"
        ") "
        f"SELECT {pt}, k, count(*) AS n_targets, sum(n) AS n_coactions, min(f), max(l), sum(g) "
        f"FROM per_target GROUP BY k HAVING count(*) >= {min_repetitions}"
    )
