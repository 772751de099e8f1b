"""A brute-force, obviously-correct reading of the pair definition, for tests only.

Every engine (DuckDB, Spark) is compared with this on small inputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import duckdb

Action = tuple[str, str, str, str | None, datetime | None, str | None]
"""(platform, account_id, trace, target, at, post_id)"""

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A time ``seconds`` after a fixed origin (microsecond precision)."""
    return T0 + timedelta(microseconds=round(seconds * 1e6))


def load(con: duckdb.DuckDBPyConnection, actions: Iterable[Action], name: str = "acts") -> str:
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"CREATE OR REPLACE TABLE {name} (platform VARCHAR, account_id VARCHAR, trace VARCHAR, "
        'target VARCHAR, "at" TIMESTAMPTZ, post_id VARCHAR)'
    )
    rows = list(actions)
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?)", rows)
    return name


def reference_pairs(
    actions: Iterable[Action],
    *,
    window: float | None,
    min_activity: int = 1,
    min_repetitions: int = 1,
) -> dict[tuple[str, str, str, str], tuple]:
    """{(platform, trace, a, b): (n_targets, n_coactions, first_at, last_at, mean_gap_s)}."""
    rows = [
        r
        for r in actions
        if r[3] not in (None, "") and r[1] is not None and (window is None or r[4] is not None)
    ]
    targets: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for p, a, tr, tg, _, _ in rows:
        targets[(p, tr, a)].add(tg)
    rows = [r for r in rows if len(targets[(r[0], r[2], r[1])]) >= min_activity]
    acc: dict[tuple[str, str, str, str], dict] = {}
    for i, (p1, a1, tr1, tg1, t1, _) in enumerate(rows):
        for p2, a2, tr2, tg2, t2, _ in rows[i + 1 :]:
            if (p1, tr1, tg1) != (p2, tr2, tg2) or a1 == a2:
                continue
            if window is not None:
                gap_us = abs(round((t1 - t2) / timedelta(microseconds=1)))
                if gap_us > round(window * 1e6):
                    continue
            key = (p1, tr1, min(a1, a2), max(a1, a2))
            e = acc.setdefault(key, {"targets": set(), "n": 0, "firsts": [], "gap": 0})
            e["targets"].add(tg1)
            e["n"] += 1
            if window is not None:
                e["firsts"].append(min(t1, t2))
                e["gap"] += gap_us
    out = {}
    for key, e in acc.items():
        if len(e["targets"]) < min_repetitions:
            continue
        if window is None:
            out[key] = (len(e["targets"]), e["n"], None, None, None)
        else:
            out[key] = (
                len(e["targets"]),
                e["n"],
                min(e["firsts"]),
                max(e["firsts"]),
                e["gap"] / e["n"] / 1e6,
            )
    return out


def engine_pairs(con: duckdb.DuckDBPyConnection, table: str = "pairs") -> dict:
    """Read a pairs table into the shape :func:`reference_pairs` returns."""
    rows = con.execute(
        f"SELECT platform, trace, account_a, account_b, n_targets, n_coactions, first_at, "
        f"last_at, mean_gap_s FROM {table}"
    ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}
