"""CooRTweet and QUT compatibility modes on hand-worked fixtures."""

from __future__ import annotations

import duckdb
import pytest

from fimiscope.coordination.compat import (
    COORTWEET_COLUMNS,
    QUT_COLUMNS,
    coortweet_network,
    qut_network,
)
from fimiscope.errors import ConfigError


def _con(rows: list[tuple[str, str, str, float, str | None]]) -> duckdb.DuckDBPyConnection:
    """Actions from (account, trace, target, seconds after 2024-01-01, post_id), on X."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE acts (platform VARCHAR, account_id VARCHAR, trace VARCHAR, target VARCHAR, "
        '"at" TIMESTAMPTZ, post_id VARCHAR)'
    )
    con.executemany(
        "INSERT INTO acts VALUES ('x', ?, ?, ?, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(CAST(? * 1e6 AS BIGINT)), ?)",
        [list(r) for r in rows],
    )
    return con


# CooRTweet fixture (time_window = 10 s, min_participation = 2)
COORT = [
    ("A", "share", "o1", 0, "c1"),
    ("B", "share", "o1", 5, "c2"),
    ("C", "share", "o1", 30, "c3"),
    ("A", "share", "o2", 100, "c4"),
    ("B", "share", "o2", 108, "c5"),
    ("C", "share", "o2", 109, "c6"),
    ("A", "share", "o3", 200, "c7"),
    ("C", "share", "o3", 200, "c8"),
    ("D", "share", "o1", 1, "c9"),  # D has one share: dropped in step 1, never pairs
    ("E", "share", "o5", 0, "o5"),  # E's own post listed as a share of itself: a loop
    ("F", "share", "o5", 1, "c10"),
    ("E", "share", "o6", 50, "c11"),
    ("F", "share", "o6", 300, "c12"),
]
# Step 1: A 3, B 2, C 3, E 2, F 2 shares kept; D (1) dropped.
# Step 2, co-shares within 10 s: o1 A-B (5); o2 A-B (8), A-C (9), B-C (1); o3 A-C (0).
#   o1 A-C (30) and B-C (25) are too far; o5 E-F is a loop (content id = object id);
#   o6 E-F is 250 s apart.
# Step 3: shares in co-shares: A {c1, c4, c7}, B {c2, c5}, C {c6, c8}: all >= 2, all kept.
# Edges: A-B weight 2, mean gap (5 + 8) / 2 = 6.5, A {c1, c4} / B {c2, c5}
#        A-C weight 2, mean gap (9 + 0) / 2 = 4.5, A {c4, c7} / C {c6, c8}
#        B-C weight 1, mean gap 1,                 B {c5}     / C {c6}
# Threshold at edge_weight = 0.3: type-7 quantile of [1, 2, 2] = 1 + 0.6 * (2 - 1) = 1.6,
#   so A-B and A-C are above it, B-C is not.
# Fast window 1 s: co-shares B-C (o2, 1 s) and A-C (o3, 0 s). Participation again: A {c7} 1,
#   B {c5} 1, C {c6, c8} 2 -> only C kept, but a co-share stays when either account is kept,
#   so both stay: A-C weight_fast 1 (gap 0), B-C weight_fast 1 (gap 1); A-B has none.
#   Fast threshold: quantile of [1, 1] = 1, and 1 > 1 is false: both 0.
COORT_EDGES = [
    ("x", "share", "A", "B", 2, 6.5, 2, 2, 1.0, 1, None, None, None),
    ("x", "share", "A", "C", 2, 4.5, 2, 2, 1.0, 1, 1, 0.0, 0),
    ("x", "share", "B", "C", 1, 1.0, 1, 1, 1.0, 0, 1, 1.0, 0),
]


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.sql(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_coortweet_network_worked_example():
    con = _con(COORT)
    out = coortweet_network(
        con, "acts", time_window=10, min_participation=2, edge_weight=0.3, fast_time_window=1
    )
    assert tuple(c[0] for c in con.sql(f"DESCRIBE {out}").fetchall()) == COORTWEET_COLUMNS
    assert _rows(con, out) == COORT_EDGES


@pytest.mark.parametrize(
    ("subgraph", "kept"),
    [(0, ["A-B", "A-C", "B-C"]), (1, ["A-B", "A-C"]), (2, []), (3, ["A-C", "B-C"])],
)
def test_coortweet_subgraphs(subgraph, kept):
    con = _con(COORT)
    coortweet_network(
        con, "acts", time_window=10, edge_weight=0.3, fast_time_window=1, subgraph=subgraph
    )
    got = [
        f"{a}-{b}"
        for a, b in con.sql(
            "SELECT account_a, account_b FROM coortweet_edges ORDER BY ALL"
        ).fetchall()
    ]
    assert got == kept


def test_coortweet_participation_counts_shares_not_objects():
    # G shares o7 twice (at 0 and 400 s) and H once at 2 s: G has 2 shares, so it survives
    # step 1 although it touched one object; H has 1 share and is dropped -> no edge.
    # With min_participation = 1 both stay: G@0-H@2 is one co-share (G@400 is too late).
    rows = [
        ("G", "share", "o7", 0, "g1"),
        ("G", "share", "o7", 400, "g2"),
        ("H", "share", "o7", 2, "h1"),
    ]
    con = _con(rows)
    coortweet_network(con, "acts", time_window=10, min_participation=2)
    assert _rows(con, "coortweet_edges") == []
    coortweet_network(con, "acts", time_window=10, min_participation=1)
    assert [r[:5] for r in _rows(con, "coortweet_edges")] == [("x", "share", "G", "H", 1)]


# QUT fixture (time_window = 10 s): a link trace with a repeated link and empty links.
QUT = [
    ("u1", "link", "L", 0, "m1"),
    ("u1", "link", "L", 5, "m2"),  # u1 posts the same link twice
    ("u2", "link", "L", 8, "m3"),
    ("u3", "link", "", 0, "m4"),  # the toolkit's CSV import turns an empty urls field into ''
    ("u4", "link", "", 3, "m5"),
    ("u5", "link", "L", 18.5, "m6"),  # 10.5 s after m3, 13.5 s after m2: no match
]
# Toolkit semantics: m matches every message on the same key within [t - 10, t + 10],
# itself included; weight(u -> v) = distinct messages of u matching some message of v.
#   key L: m1 ~ {m1, m2, m3}, m2 ~ {m1, m2, m3}, m3 ~ {m1, m2, m3}, m6 ~ {m6}
#     u1 -> u1: {m1, m2} = 2   u1 -> u2: {m1, m2} = 2 (lopsided)   u2 -> u1: {m3} = 1
#     u2 -> u2: 1              u5 -> u5: 1
#   key '': m4 ~ {m4, m5}, m5 ~ {m4, m5}: u3 <-> u4 weight 1 each way, plus two self-loops.
QUT_COMPAT_1 = [
    ("x", "link", "u1", "u1", 2),
    ("x", "link", "u1", "u2", 2),
    ("x", "link", "u2", "u1", 1),
    ("x", "link", "u2", "u2", 1),
    ("x", "link", "u3", "u3", 1),
    ("x", "link", "u3", "u4", 1),
    ("x", "link", "u4", "u3", 1),
    ("x", "link", "u4", "u4", 1),
    ("x", "link", "u5", "u5", 1),
]


def test_qut_compatible_reproduces_the_toolkit_with_its_defects():
    con = _con(QUT)
    out = qut_network(con, "acts", time_window=10, min_edge_weight=1, qut_compatible=True)
    assert tuple(c[0] for c in con.sql(f"DESCRIBE {out}").fetchall()) == QUT_COLUMNS
    assert _rows(con, out) == QUT_COMPAT_1
    # min_edge_weight = 2 keeps the rows of weight >= 2 only: u1's self-loop and u1 -> u2.
    qut_network(con, "acts", time_window=10, min_edge_weight=2, qut_compatible=True)
    assert _rows(con, out) == [("x", "link", "u1", "u1", 2), ("x", "link", "u1", "u2", 2)]


def test_qut_default_drops_loops_empty_targets_and_direction():
    con = _con(QUT)
    # One undirected edge u1-u2 on one distinct target (L); u3/u4 share only the empty
    # link; u5 is alone in its window.
    qut_network(con, "acts", time_window=10, min_edge_weight=1)
    assert _rows(con, "qut_edges") == [("x", "link", "u1", "u2", 1)]
    qut_network(con, "acts", time_window=10, min_edge_weight=2)
    assert _rows(con, "qut_edges") == []


def test_qut_window_is_symmetric_and_inclusive():
    # v1 at 0 and v2 at exactly 10 s match both ways; v3 at 10.000001 s matches v2 only.
    rows = [
        ("v1", "repost", "p", 0, "a"),
        ("v2", "repost", "p", 10, "b"),
        ("v3", "repost", "p", 10.000001, "c"),
    ]
    con = _con(rows)
    qut_network(con, "acts", time_window=10, min_edge_weight=1, qut_compatible=True)
    got = {(a, b) for _, _, a, b, _ in _rows(con, "qut_edges") if a != b}
    assert got == {("v1", "v2"), ("v2", "v1"), ("v2", "v3"), ("v3", "v2")}


@pytest.mark.parametrize(
    ("kw", "parameter"),
    [
        ({"time_window": -1}, "time_window"),
        ({"min_participation": 0}, "min_participation"),
        ({"edge_weight": 1.5}, "edge_weight"),
        ({"subgraph": 3}, "fast_time_window"),
        ({"subgraph": 4}, "subgraph"),
    ],
)
def test_coortweet_refuses_bad_parameters(kw, parameter):
    con = _con(COORT)
    with pytest.raises(ConfigError) as err:
        coortweet_network(con, "acts", **kw)
    assert err.value.parameter == parameter
