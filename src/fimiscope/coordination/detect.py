"""``detect``: traces → co-action pairs → significance → fused edges → Leiden groups → store.

References
----------
.. [1] Giglietto, F., et al. (2020). It takes a village to manipulate the media. *ICS*.
.. [2] Righetti, N., & Balluff, P. (2023). CooRTweet (R package): the fast-net flag.
.. [3] Tumminello, M., et al. (2011). Statistically validated networks. *PLoS ONE*.
.. [4] Traag, V. A., Waltman, L., & van Eck, N. J. (2019). From Louvain to Leiden.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from numbers import Real
from pathlib import Path
from typing import Any

import orjson

from fimiscope.coordination import network
from fimiscope.coordination.pairs import CROWD_MIN_TARGETS, MAX_CELL, pair_counts
from fimiscope.coordination.significance import delay_shuffle_test, popularity_test, tested_pairs
from fimiscope.coordination.traces import build_actions, check_period, get_trace
from fimiscope.coordination.traces import traces as all_traces
from fimiscope.coordination.window import estimate_window
from fimiscope.errors import ConfigError
from fimiscope.store import Store

__all__ = ["DEFAULT_TRACES", "DetectResult", "detect"]

DEFAULT_TRACES = ("repost", "like", "quote", "reply", "link", "hashtag_seq", "text_near")


def _pos(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _int_ge(low: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


_CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "traces": (
        lambda v: isinstance(v, (tuple, list)) and len(v) > 0 and set(v) <= set(all_traces()),
        "a non-empty sequence of registered trace names",
    ),
    "window": (lambda v: v is None or _pos(v), "a positive number of seconds, or None (estimate)"),
    "fast_window": (lambda v: v is None or _pos(v), "a positive number of seconds, or None"),
    "min_activity": (_int_ge(1), "an integer >= 1"),
    "min_repetitions": (_int_ge(1), "an integer >= 1"),
    "expected_false_edges": (_pos, "a positive number"),
    "resolution": (_pos, "a positive number"),
    "seed": (_int_ge(0), "an integer >= 0"),
    "min_group_size": (_int_ge(2), "an integer >= 2"),
    "partitions": (lambda v: v is None or _int_ge(1)(v), "an integer >= 1, or None (automatic)"),
    "max_set_target": (_int_ge(2), "an integer >= 2"),
    "max_cell": (lambda v: v is None or _int_ge(2)(v), "an integer >= 2, or None (no cap)"),
    "engine": (lambda v: v in ("duckdb", "spark"), "'duckdb' or 'spark'"),
}


@dataclass(frozen=True)
class DetectResult:
    """What a detect run found; the full results are in the store under ``run_id``."""

    run_id: str
    window: float
    window_estimated: bool
    fast_window: float
    alpha: float
    tested_pairs: float
    candidate_pairs: int
    edges: int
    groups: tuple[network.Group, ...]
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect(
    store: Store,
    *,
    traces: Sequence[str] = DEFAULT_TRACES,
    window: float | None = None,
    fast_window: float | None = None,
    min_activity: int = 3,
    min_repetitions: int = 3,
    expected_false_edges: float = 1.0,
    resolution: float = 1.0,
    seed: int = 0,
    min_group_size: int = 3,
    partitions: int | None = None,
    max_set_target: int = 1000,
    max_cell: int | None = MAX_CELL,
    engine: str = "duckdb",
    since: datetime | None = None,
    until: datetime | None = None,
    media_dir: str | Path | None = None,
) -> DetectResult:
    """Find coordinated groups in a store and record them under a new ``run_id``.

    Parameters
    ----------
    store
        An open, writable :class:`~fimiscope.store.Store`.
    traces
        Trace names (see :func:`fimiscope.coordination.traces.traces`).
    window
        Δt in seconds; None estimates it from the data (CooRnet's method).
    fast_window
        A narrower Δt; edges that also hold within it are flagged ``fast``. Default window/4.
    min_activity
        Distinct targets an account needs in a trace to be paired.
    min_repetitions
        Distinct co-acted targets a pair needs to be tested.
    expected_false_edges
        Expected number of chance edges over all tested pairs (Bonferroni: alpha = E / M).
    resolution
        Leiden resolution (modularity with the RB configuration null model).
    seed
        Leiden seed.
    min_group_size
        Smaller groups are not reported.
    partitions
        Slices of the pair computation (bounds memory).
    max_set_target
        In set-overlap traces (no times), targets with more actors are not paired: sharing
        them is no evidence under the popularity null.
    max_cell
        Crowd cells (a target acted on more than this many times within one Δt bucket) take
        part in no co-action; their members are paired by crowd co-membership instead (trace
        ``<trace>_crowd``, popularity null). None: no cap (memory grows with the square of
        the largest cell).
    engine
        ``"duckdb"`` or ``"spark"`` (the pair step on PySpark, local mode unless a session is
        configured; see :mod:`fimiscope.coordination.spark`).
    since, until
        Only actions with ``since <= at < until`` take part (either bound may be None; naive
        datetimes are UTC). Actions without a time (X likes) are then left out. Both are
        recorded in the run's parameters (ISO 8601).
    media_dir
        A folder of the posts' image files: ``post_media.phash`` is filled from them first
        (:func:`fimiscope.coordination.media.compute_phashes`, needs the ``media`` extra) and
        the ``media_phash`` trace (same perceptual hash) is added to ``traces``.

    Returns
    -------
    DetectResult

    Raises
    ------
    ConfigError
        When a parameter is out of range; checked before anything runs.
    """
    params = {
        "traces": tuple(traces),
        "window": window,
        "fast_window": fast_window,
        "min_activity": min_activity,
        "min_repetitions": min_repetitions,
        "expected_false_edges": expected_false_edges,
        "resolution": resolution,
        "seed": seed,
        "min_group_size": min_group_size,
        "partitions": partitions,
        "max_set_target": max_set_target,
        "max_cell": max_cell,
        "engine": engine,
    }
    for name, (ok, expected) in _CONSTRAINTS.items():
        if not ok(params[name]):
            raise ConfigError(name, "detect", expected, params[name])
    params["since"], params["until"] = check_period(since, until)
    if engine == "spark":
        from fimiscope.coordination.spark import _pyspark

        _pyspark()  # MissingDependencyError(pyspark, spark) before anything runs
    hashed = 0
    if media_dir is not None:
        from fimiscope.coordination.media import compute_phashes

        hashed = compute_phashes(store, media_dir)
        if "media_phash" not in params["traces"]:
            params["traces"] = (*params["traces"], "media_phash")
    recorded = {
        **params,
        "traces": list(params["traces"]),
        "media_dir": str(media_dir) if media_dir is not None else None,
        "media_hashed_": hashed,
        "since": params["since"].isoformat() if params["since"] else None,
        "until": params["until"].isoformat() if params["until"] else None,
    }
    run_id = store.start_run("detect", recorded, seed=seed, input_digest=store.source_digest())
    try:
        result = _run(store, run_id, params)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    return result


def _pair_step(params: dict[str, Any], con: Any, actions: str, **kw: Any) -> str:
    """``pair_counts`` on the chosen engine (the same tables and rows either way)."""
    if params["engine"] == "spark":
        from fimiscope.coordination.spark import spark_pairs_into_duckdb

        kw.pop("partitions", None)
        return spark_pairs_into_duckdb(con, actions, **kw)
    return pair_counts(con, actions, **kw)


def _run(store: Store, run_id: str, params: dict[str, Any]) -> DetectResult:
    con = store.con
    secs: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        secs[name] = round(now - tick, 3)
        tick = now

    chosen = [get_trace(n) for n in params["traces"]]
    con.execute("DROP TABLE IF EXISTS _fs_text_targets")
    build_actions(
        con, params["traces"], since=params["since"], until=params["until"], out="_fs_actions"
    )
    untimed = sorted({t.untimed_name for t in chosen if t.untimed_name})
    created = sorted({t.name for t in chosen if t.origin == "created"})
    lap("traces")

    window, estimated = params["window"], False
    if window is None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _fs_est AS SELECT trace || ':' || target AS target, "
            '"at" FROM _fs_actions WHERE list_contains(?, trace) = false',
            [created],
        )
        window, estimated = estimate_window(con, "_fs_est") or 60.0, True
    fast = params["fast_window"] or max(window / 4, 1.0)
    lap("window")

    mr, ma, parts = params["min_repetitions"], params["min_activity"], params["partitions"]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_timed AS SELECT * FROM _fs_actions "
        "WHERE list_contains(?, trace) = false",
        [untimed],
    )
    _pair_step(
        params,
        con,
        "_fs_timed",
        window=window,
        min_activity=ma,
        min_repetitions=mr,
        partitions=parts,
        max_cell=params["max_cell"],
        out="_fs_pairs_w",
        crowd_out="_fs_pairs_c",
        crowd_members_out="_fs_crowd",
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_untimed AS SELECT a.* FROM _fs_actions a JOIN ("
        "  SELECT platform, trace, target FROM _fs_actions WHERE list_contains($1, trace) "
        "  GROUP BY ALL HAVING count(DISTINCT account_id) <= $2) USING (platform, trace, target)",
        [untimed, params["max_set_target"]],
    )
    _pair_step(
        params,
        con,
        "_fs_untimed",
        window=None,
        min_activity=ma,
        min_repetitions=mr,
        partitions=parts,
        out="_fs_pairs_s",
    )
    lap("pairs")

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_pw_exist AS SELECT * FROM _fs_pairs_w "
        "WHERE list_contains(?, trace) = false",
        [created],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_pw_created AS SELECT * FROM _fs_pairs_w "
        "WHERE list_contains(?, trace)",
        [created],
    )
    delay_shuffle_test(con, "_fs_timed", "_fs_pw_exist", window=window, out="_fs_sig_d")
    popularity_test(con, "_fs_timed", "_fs_pw_created", out="_fs_sig_c")
    popularity_test(con, "_fs_untimed", "_fs_pairs_s", out="_fs_sig_s")
    # crowd co-membership (accounts in the crowds of the same viral targets): popularity null
    # over crowd membership, so sharing a few huge crowds is expected and only many count
    popularity_test(con, "_fs_crowd", "_fs_pairs_c", out="_fs_sig_k")
    m_tested = {
        **tested_pairs(con, "_fs_timed", ma),
        **tested_pairs(con, "_fs_untimed", ma),
        **tested_pairs(con, "_fs_crowd", max(mr, CROWD_MIN_TARGETS)),
    }
    total_m = max(1.0, sum(m_tested.values()))
    alpha = params["expected_false_edges"] / total_m
    lap("significance")

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_et AS "
        "WITH sig AS (SELECT *, 'delay_shuffle' AS null_model FROM _fs_sig_d UNION ALL "
        "  SELECT *, 'popularity' FROM _fs_sig_c UNION ALL SELECT *, 'popularity' FROM _fs_sig_s "
        "  UNION ALL SELECT *, 'popularity' FROM _fs_sig_k),"
        " pc AS (SELECT * FROM _fs_pairs_w UNION ALL SELECT * FROM _fs_pairs_s "
        "  UNION ALL SELECT * FROM _fs_pairs_c) "
        "SELECT CAST(? AS VARCHAR) AS run_id, s.platform, s.trace, s.account_a, s.account_b, "
        "  pc.n_targets, pc.n_coactions, s.shared, s.k, s.expected, s.p_value, s.null_model, "
        '  s.p_value <= ? AS significant, list_contains(?, s.trace) = false AS "primary", '
        "  pc.first_at, pc.last_at, pc.mean_gap_s "
        "FROM sig s JOIN pc USING (platform, trace, account_a, account_b)",
        [run_id, alpha, untimed],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_edges AS "
        "SELECT platform, account_a, account_b, "
        "  sum(least(-log10(greatest(p_value, 1e-300)), 50)) "
        "    FILTER (WHERE p_value <= 0.01 OR significant) "
        "    AS weight, min(p_value) AS min_p, "
        "  string_agg(trace, ',' ORDER BY trace) FILTER (WHERE significant) AS traces, "
        "  sum(n_targets) FILTER (WHERE significant) AS n_targets "
        'FROM _fs_et GROUP BY ALL HAVING bool_or(significant AND "primary")'
    )
    lap("edges")

    # fast-net flag: recount only the accounts that have an edge
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_fast_in AS SELECT * FROM _fs_timed t WHERE EXISTS ("
        "SELECT 1 FROM _fs_edges e WHERE e.platform = t.platform "
        "AND (e.account_a = t.account_id OR e.account_b = t.account_id))"
    )
    _pair_step(
        params,
        con,
        "_fs_fast_in",
        window=fast,
        min_activity=ma,
        min_repetitions=mr,
        partitions=1,
        out="_fs_pairs_f",
    )
    lap("fast")

    edges = con.execute("SELECT platform, account_a, account_b, weight FROM _fs_edges").fetchall()
    membership = network.find_groups(
        edges,
        resolution=params["resolution"],
        seed=params["seed"],
        min_size=params["min_group_size"],
    )
    import pyarrow as pa

    con.register(
        "_fs_members_arrow",
        pa.table(
            {
                "group_id": pa.array([g for g in membership.values()], pa.int32()),
                "platform": pa.array([k[0] for k in membership], pa.string()),
                "account_id": pa.array([k[1] for k in membership], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _fs_members AS SELECT * FROM _fs_members_arrow")
    con.unregister("_fs_members_arrow")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_edges AS SELECT e.*, "
        "  f.account_a IS NOT NULL AS fast, "
        "  CASE WHEN ma.group_id = mb.group_id THEN ma.group_id END AS group_id "
        "FROM _fs_edges e "
        "LEFT JOIN (SELECT DISTINCT platform, account_a, account_b FROM _fs_pairs_f) f "
        "  USING (platform, account_a, account_b) "
        "LEFT JOIN _fs_members ma ON ma.platform = e.platform AND ma.account_id = e.account_a "
        "LEFT JOIN _fs_members mb ON mb.platform = e.platform AND mb.account_id = e.account_b"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _fs_et_g AS SELECT t.*, e.group_id FROM _fs_et t "
        "JOIN _fs_edges e USING (platform, account_a, account_b) "
        "WHERE t.significant AND e.group_id IS NOT NULL"
    )
    evidence = network.group_evidence(con, "_fs_actions", "_fs_members", "_fs_et_g", window=window)
    lap("groups")

    groups = _write(store, run_id, evidence)
    n_cand = sum(
        con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("_fs_pairs_w", "_fs_pairs_s", "_fs_pairs_c")
    )
    learned = {
        "window_": window,
        "window_estimated_": estimated,
        "fast_window_": fast,
        "alpha_": alpha,
        "tested_pairs_": total_m,
        "tested_pairs_by_trace_": {f"{p}:{t}": m for (p, t), m in m_tested.items()},
        "candidate_pairs_": n_cand,
        "edges_": len(edges),
        "groups_": len(groups),
        "null_models_": {
            "existing targets, timed": "delay_shuffle",
            "created targets or untimed": "popularity",
            "crowd co-membership (<trace>_crowd)": "popularity",
        },
    }
    run_params = store.run(run_id)["parameters"]
    con.execute(
        "UPDATE runs SET parameters = ? WHERE run_id = ?",
        [orjson.dumps({**run_params, **learned}, default=str).decode(), run_id],
    )
    for t in (
        "_fs_pairs_w",
        "_fs_pairs_s",
        "_fs_pairs_c",
        "_fs_pairs_f",
        "_fs_crowd",
        "_fs_sig_d",
        "_fs_sig_c",
        "_fs_sig_s",
        "_fs_sig_k",
    ):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    lap("write")
    store.finish_run(run_id, message=f"{len(edges)} edges, {len(groups)} groups")
    return DetectResult(
        run_id, window, estimated, fast, alpha, total_m, n_cand, len(edges), tuple(groups), secs
    )


def _write(store: Store, run_id: str, evidence: dict[int, dict[str, Any]]) -> list[network.Group]:
    con = store.con
    stats = con.execute(
        "SELECT m.group_id, any_value(m.platform), list(m.account_id ORDER BY m.account_id), "
        "  (SELECT count(*) FROM _fs_edges e WHERE e.group_id = m.group_id), "
        "  (SELECT sum(p_value) FROM _fs_et_g t WHERE t.group_id = m.group_id), "
        "  (SELECT min(first_at) FROM _fs_et_g t WHERE t.group_id = m.group_id), "
        "  (SELECT max(last_at) FROM _fs_et_g t WHERE t.group_id = m.group_id) "
        "FROM _fs_members m GROUP BY m.group_id ORDER BY m.group_id"
    ).fetchall()
    groups = []
    with store.transaction():
        con.execute("INSERT INTO coord_edge_traces SELECT * FROM _fs_et")
        con.execute(
            "INSERT INTO coord_edges SELECT ?, platform, account_a, account_b, weight, min_p, "
            "traces, n_targets, fast, group_id FROM _fs_edges",
            [run_id],
        )
        con.execute(
            "INSERT INTO coord_members SELECT ?, m.group_id, m.platform, m.account_id, "
            "  count(e.account_a), coalesce(sum(e.weight), 0) FROM _fs_members m "
            "LEFT JOIN _fs_edges e ON e.group_id = m.group_id AND e.platform = m.platform "
            "  AND (e.account_a = m.account_id OR e.account_b = m.account_id) GROUP BY ALL",
            [run_id],
        )
        for gid, platform, members, n_edges, exp_chance, first, last in stats:
            size = len(members)
            ev = evidence.get(gid, {"traces": {}, "shared_targets": [], "timeline": []})
            density = n_edges / (size * (size - 1) / 2) if size > 1 else 0.0
            traces = tuple(ev["traces"])
            text = network.summary(size, ev, float(exp_chance or 0.0))
            con.execute(
                "INSERT INTO coord_groups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    gid,
                    platform,
                    size,
                    n_edges,
                    density,
                    ",".join(traces),
                    float(exp_chance or 0.0),
                    first,
                    last,
                    text,
                ],
            )
            con.execute(
                "INSERT INTO coord_evidence VALUES (?, ?, ?)",
                [run_id, gid, orjson.dumps({**ev, "summary": text}).decode()],
            )
            groups.append(
                network.Group(gid, platform, tuple(members), n_edges, density, traces, text)
            )
    return groups
