"""Co-action pairs: hand-worked fixtures and properties, checked against a brute force."""

from __future__ import annotations

import random

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fimiscope.coordination.pairs import PAIR_COLUMNS, pair_counts
from fimiscope.errors import ConfigError

from ._reference import at, engine_pairs, load, reference_pairs


def run(actions, **kw):
    con = duckdb.connect()
    load(con, actions)
    pair_counts(con, "acts", **kw)
    return engine_pairs(con)


# --- hand-worked fixtures -------------------------------------------------------------------

# Post p1 is reposted by u1 at 0 s, u2 at 5 s, u3 at 60 s, u1 again at 8 s; post p2 by u1 at
# 100 s and u2 at 110 s; u4's repost has an empty target and u5's a NULL one.
FIXTURE = [
    ("x", "u1", "repost", "p1", at(0), "r1"),
    ("x", "u2", "repost", "p1", at(5), "r2"),
    ("x", "u3", "repost", "p1", at(60), "r3"),
    ("x", "u1", "repost", "p1", at(8), "r4"),
    ("x", "u1", "repost", "p2", at(100), "r5"),
    ("x", "u2", "repost", "p2", at(110), "r6"),
    ("x", "u4", "repost", "", at(100), "r7"),
    ("x", "u5", "repost", None, at(100), "r8"),
    ("x", "u6", "repost", "", at(100), "r9"),
]


def test_fixture_window_10s():
    # window 10 s:
    #   p1: u1@0-u2@5 (gap 5, first 0), u1@8-u2@5 (gap 3, first 5); u3@60 is 52+ s from all.
    #   p2: u1@100-u2@110 (gap 10, inclusive, first 100).
    #   u4/u6 share the empty target: never a match; u5 has NULL target.
    # => (u1, u2): n_targets 2, n_coactions 3, first 0 s, last 100 s, mean gap (5+3+10)/3 = 6.
    got = run(FIXTURE, window=10)
    assert got == {("x", "repost", "u1", "u2"): (2, 3, at(0), at(100), 6.0)}


def test_fixture_window_just_below_gap_excludes():
    # window 9.999999 s: p2's 10 s gap falls out; p1 keeps its two co-actions (gaps 5 and 3).
    got = run(FIXTURE, window=9.999999)
    assert got == {("x", "repost", "u1", "u2"): (1, 2, at(0), at(5), 4.0)}


def test_fixture_window_60s():
    # window 60 s adds u3@60 with u1@0 (gap 60, first 0), u1@8 (52, first 8), u2@5 (55, first 5).
    got = run(FIXTURE, window=60)
    assert got[("x", "repost", "u1", "u3")] == (1, 2, at(0), at(8), 56.0)
    assert got[("x", "repost", "u2", "u3")] == (1, 1, at(5), at(5), 55.0)
    assert got[("x", "repost", "u1", "u2")] == (2, 3, at(0), at(100), 6.0)


def test_fixture_set_overlap():
    # window None: every pair on the same target; times ignored.
    #   p1: u1 (2 actions) x u2 -> 2 pairs, u1 x u3 -> 2, u2 x u3 -> 1;  p2: u1 x u2 -> 1.
    got = run(FIXTURE, window=None)
    assert got == {
        ("x", "repost", "u1", "u2"): (2, 3, None, None, None),
        ("x", "repost", "u1", "u3"): (1, 2, None, None, None),
        ("x", "repost", "u2", "u3"): (1, 1, None, None, None),
    }


def test_fixture_min_repetitions_and_activity():
    # min_repetitions 2 keeps only (u1, u2), which shares p1 and p2.
    assert set(run(FIXTURE, window=None, min_repetitions=2)) == {("x", "repost", "u1", "u2")}
    # min_activity 2 drops u3 (one distinct target) before pairing.
    assert set(run(FIXTURE, window=None, min_activity=2)) == {("x", "repost", "u1", "u2")}


def test_null_times_only_in_set_overlap():
    # u1 and u2 liked p1; u2's like has no time: no pair with a window, a pair without.
    likes = [("x", "u1", "like", "p1", at(0), None), ("x", "u2", "like", "p1", None, None)]
    assert run(likes, window=3600) == {}
    assert run(likes, window=None) == {("x", "like", "u1", "u2"): (1, 1, None, None, None)}


def test_platforms_and_traces_do_not_mix():
    # Same ids and target on two platforms and two traces: no cross pairs.
    acts = [
        ("x", "u1", "repost", "p1", at(0), None),
        ("bluesky", "u2", "repost", "p1", at(0), None),
        ("x", "u2", "like", "p1", at(0), None),
    ]
    assert run(acts, window=10) == {}


def test_string_order_of_accounts():
    # "B" < "a" < "é" in binary (code point) order, whatever the locale.
    acts = [("x", a, "repost", "p", at(0), None) for a in ("é", "a", "B")]
    got = run(acts, window=1)
    assert set(got) == {
        ("x", "repost", "B", "a"),
        ("x", "repost", "B", "é"),
        ("x", "repost", "a", "é"),
    }


def test_hot_target_is_bounded_by_window():
    # 3,000 reposts of one post spread one per second over 3,000 s with a 2 s window: each
    # repost pairs with the next two only -> 2,999 + 2,998 pairs, not 4.5 million.
    acts = [("x", f"u{i:05d}", "repost", "hot", at(i), None) for i in range(3000)]
    con = duckdb.connect()
    load(con, acts)
    pair_counts(con, "acts", window=2, partitions=4)
    assert con.execute("SELECT count(*), sum(n_coactions) FROM pairs").fetchone() == (5997, 5997)


def test_output_columns_and_empty_input():
    con = duckdb.connect()
    load(con, [])
    assert pair_counts(con, "acts", window=5, out="my pairs") == "my pairs"
    cols = [r[0] for r in con.execute('DESCRIBE "my pairs"').fetchall()]
    assert tuple(cols) == PAIR_COLUMNS
    assert con.execute('SELECT count(*) FROM "my pairs"').fetchone() == (0,)
    # no temporary tables left behind
    names = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert names == {"acts", "my pairs"}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"window": -1},
            "`window` of pair_counts must be a number of seconds >= 0, or None; got -1.",
        ),
        ({"window": float("nan")}, "`window` of pair_counts"),
        ({"window": 5, "min_activity": 0}, "`min_activity` of pair_counts must be an integer >= 1"),
        ({"window": 5, "partitions": True}, "`partitions` of pair_counts"),
    ],
)
def test_bad_parameters(kw, message):
    con = duckdb.connect()
    load(con, [])
    with pytest.raises(ConfigError) as err:
        pair_counts(con, "acts", **kw)
    assert str(err.value).startswith(message)


# --- properties --------------------------------------------------------------------------------

ACCOUNTS = ["a", "b", "c", "B", "é", "日本"]
action = st.tuples(
    st.sampled_from(["x", "bluesky"]),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["repost", "like"]),
    st.sampled_from(["t1", "t2", "t3", "", None]),
    st.one_of(st.none(), st.integers(0, 40).map(at), st.floats(0, 40).map(at)),
    st.none(),
)
actions_st = st.lists(action, max_size=25)
window_st = st.one_of(st.none(), st.sampled_from([0, 0.5, 1, 3, 7.25, 20]))
SETTINGS = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(actions_st, window_st, st.integers(1, 3), st.integers(1, 2), st.integers(1, 3))
def test_matches_brute_force(acts, window, min_activity, min_repetitions, partitions):
    got = run(
        acts,
        window=window,
        min_activity=min_activity,
        min_repetitions=min_repetitions,
        partitions=partitions,
    )
    want = reference_pairs(
        acts, window=window, min_activity=min_activity, min_repetitions=min_repetitions
    )
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k][:4] == v[:4]
        assert got[k][4] == pytest.approx(v[4]) if v[4] is not None else got[k][4] is None


@SETTINGS
@given(actions_st, window_st)
def test_pairs_are_ordered_and_unique(acts, window):
    got = run(acts, window=window)
    for _, _, a, b in got:
        assert a < b


@SETTINGS
@given(actions_st, st.sampled_from([0, 1, 3, 7]), st.sampled_from([0.5, 2, 10]))
def test_widening_window_never_removes_or_lowers(acts, window, extra):
    narrow = run(acts, window=window)
    wide = run(acts, window=window + extra)
    overlap = run(acts, window=None)
    for k, v in narrow.items():
        assert k in wide and wide[k][0] >= v[0] and wide[k][1] >= v[1]
        assert k in overlap and overlap[k][0] >= v[0] and overlap[k][1] >= v[1]


@SETTINGS
@given(actions_st, window_st, st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(acts, window, rnd):
    shuffled = list(acts)
    rnd.shuffle(shuffled)
    assert run(shuffled, window=window, partitions=2) == run(acts, window=window)


@SETTINGS
@given(actions_st, window_st, st.permutations(ACCOUNTS))
def test_relabelling_accounts_relabels_output(acts, window, perm):
    rename = dict(zip(ACCOUNTS, perm, strict=True))
    renamed = [(p, rename[a], tr, tg, t, pid) for p, a, tr, tg, t, pid in acts]
    got = run(renamed, window=window)
    want = {
        (p, tr, min(rename[a], rename[b]), max(rename[a], rename[b])): v
        for (p, tr, a, b), v in run(acts, window=window).items()
    }
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k][:4] == v[:4]
        assert got[k][4] == pytest.approx(v[4]) if v[4] is not None else got[k][4] is None


def test_random_larger_input_matches_brute_force():
    rnd = random.Random(7)
    acts = [
        (
            "x",
            f"u{rnd.randrange(30)}",
            "repost",
            f"p{rnd.randrange(15)}",
            at(rnd.uniform(0, 300)),
            None,
        )
        for _ in range(400)
    ]
    for window in (0.0, 5.0, 30.0, None):
        got = run(acts, window=window, min_activity=2, min_repetitions=2, partitions=3)
        want = reference_pairs(acts, window=window, min_activity=2, min_repetitions=2)
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert got[k][:4] == v[:4]


def test_crowd_cells_take_part_in_no_coaction():
    """A target acted on more than ``max_cell`` times in one Δt bucket: those actions pair
    with nobody (activity still counts); the rest is the exact definition."""
    rnd = random.Random(3)
    acts = [
        ("x", f"u{i % 7}", "repost", f"p{i % 5}", at(1000 * (i % 5) + i), f"r{i}")
        for i in range(40)
    ]
    # crowd: 30 accounts on post c within one 10-s bucket [20000, 20010)
    crowd = [
        ("x", f"c{i}", "repost", "c", at(20000 + rnd.uniform(0, 9.9)), f"k{i}") for i in range(30)
    ]
    got = run(acts + crowd, window=10, max_cell=20)
    assert got == run(acts, window=10, max_cell=None)
    assert run(acts + crowd, window=10, max_cell=None) == reference_pairs(acts + crowd, window=10)


def test_automatic_partitions_give_the_same_pairs():
    rnd = random.Random(4)
    acts = [
        (
            "x",
            f"u{rnd.randrange(30)}",
            "repost",
            f"p{rnd.randrange(20)}",
            at(rnd.uniform(0, 300)),
            f"r{i}",
        )
        for i in range(600)
    ]
    assert run(acts, window=20, partitions=None) == run(acts, window=20, partitions=3)
    assert run(acts, window=20) == reference_pairs(acts, window=20)


def _crowd_world(rnd: random.Random, n_posts: int, size: int, bots: int):
    """``n_posts`` viral posts, each reposted by ``size`` organic accounts (drawn from a pool
    of 20 * size) within one 10-s bucket, and by the same ``bots`` bot accounts too."""
    acts = []
    for p in range(n_posts):
        base = 100_000 * (p + 1)
        members = rnd.sample(range(20 * size), size)
        acts += [
            ("x", f"o{m:06d}", "repost", f"viral{p}", at(base + rnd.uniform(0, 9.9)), None)
            for m in members
        ]
        acts += [
            ("x", f"bot{b:02d}", "repost", f"viral{p}", at(base + rnd.uniform(0, 9.9)), None)
            for b in range(bots)
        ]
    return acts


def test_crowd_membership_pairs_find_a_network_piling_onto_viral_posts():
    # 4 viral posts, each a crowd cell of 300 organic + 8 bots (> max_cell 100): no co-action
    # counts, but the 8 bots were in all 4 crowds -> C(8,2) = 28 crowd pairs with 4 targets.
    # An organic account is in a given crowd with p = 300/6,000 = 0.05: in all 4 with 6e-6
    # (none of 6,000 expected) -- but in 3 of 4 with 5e-4 (~3 expected), so min_repetitions 4.
    rnd = random.Random(5)
    acts = _crowd_world(rnd, 4, 300, 8)
    con = duckdb.connect()
    load(con, acts)
    pair_counts(
        con,
        "acts",
        window=10,
        min_repetitions=4,
        max_cell=100,
        crowd_out="crowd",
        crowd_members_out="members",
    )
    assert con.execute("SELECT count(*) FROM pairs").fetchone() == (0,)
    got = con.execute(
        "SELECT account_a, account_b, trace, n_targets, first_at FROM crowd ORDER BY ALL"
    ).fetchall()
    bots = [f"bot{b:02d}" for b in range(8)]
    assert [(a, b) for a, b, *_ in got] == [
        (bots[i], bots[j]) for i in range(8) for j in range(i + 1, 8)
    ]
    assert {r[2:] for r in got} == {("repost_crowd", 4, None)}
    # every crowd member is listed once per crowd target
    assert con.execute("SELECT count(*), count(DISTINCT target) FROM members").fetchone() == (
        4 * 308,
        4,
    )
    # without crowd cells (max_cell None) the crowd outputs exist and are empty
    pair_counts(con, "acts", window=10, max_cell=None, crowd_out="crowd", out="p2")
    assert con.execute("SELECT count(*) FROM crowd").fetchone() == (0,)


def test_one_post_reposted_50000_times_stays_bounded():
    """50,000 reposts of one post within a minute (the crowd cap's case): with a memory limit
    far below what 50,000**2 / 2 pairs need, the run finishes, pairs nobody, and the crowd
    step joins nothing (nobody is in two crowds)."""
    import time

    rnd = random.Random(6)
    con = duckdb.connect(config={"memory_limit": "400MB", "threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE acts AS SELECT 'x' AS platform, 'u' || i AS account_id, "
        "'repost' AS trace, 'hot' AS target, "
        "TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(CAST(? * i AS BIGINT)) AS \"at\", "
        "CAST(NULL AS VARCHAR) AS post_id FROM range(50000) t(i)",
        [rnd.uniform(1000, 1100)],
    )
    t = time.perf_counter()
    pair_counts(con, "acts", window=60, crowd_out="crowd", crowd_members_out="members")
    assert time.perf_counter() - t < 30
    assert con.execute("SELECT count(*) FROM pairs").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM crowd").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM members").fetchone() == (50000,)
    assert pair_counts.last_crowd_rows == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("window", [None, 0, 7.5, 60])
def test_sql_path_and_kernel_give_the_same_rows(window, engine):
    """Each compiled kernel (C, numba) and the SQL join + hash aggregation are
    implementations of one definition: same rows, bit for bit, on repeated actions, two
    platforms and two traces."""
    rnd = random.Random(12)
    acts = [
        (
            rnd.choice(["x", "bluesky"]),
            f"u{rnd.randrange(25)}",
            rnd.choice(["repost", "like"]),
            f"p{rnd.randrange(15)}",
            at(rnd.randrange(0, 40) + rnd.choice([0, 0.5, 0.000001])),
            f"r{i}",
        )
        for i in range(1500)
    ]
    con = duckdb.connect()
    load(con, acts)
    kw = {"window": window, "min_activity": 2, "min_repetitions": 2}
    pair_counts(con, "acts", kernel=False, out="p_sql", **kw)
    pair_counts(con, "acts", kernel=True, out="p_kernel", **kw)
    assert pair_counts.last_engine == engine  # type: ignore[attr-defined]
    sql = con.execute("SELECT * FROM p_sql ORDER BY ALL").fetchall()
    assert len(sql) >= 10  # window 0 (exact ties only) has the fewest
    assert con.execute("SELECT * FROM p_kernel ORDER BY ALL").fetchall() == sql
    assert engine_pairs(con, "p_kernel") == reference_pairs(acts, **kw)


def _brute_aggregates(aid, tid, us, window_us, min_repetitions):
    """{(a, b): (n_targets, n_coactions, first_us, last_us, gap_us)} by looking at every pair."""
    acc = {}
    for i in range(len(aid)):
        for j in range(len(aid)):
            a, b = int(aid[i]), int(aid[j])
            if a >= b or tid[i] != tid[j]:
                continue
            gap = abs(int(us[i]) - int(us[j])) if window_us is not None else 0
            if window_us is not None and gap > window_us:
                continue
            f = min(int(us[i]), int(us[j])) if window_us is not None else 0
            e = acc.setdefault((a, b), [set(), 0, f, f, 0])
            e[0].add(int(tid[i]))
            e[1] += 1
            e[2], e[3], e[4] = min(e[2], f), max(e[3], f), e[4] + gap
    return {
        k: (len(v[0]), v[1], v[2], v[3], v[4])
        for k, v in acc.items()
        if len(v[0]) >= min_repetitions
    }


@pytest.mark.parametrize("window_us", [None, 0, 3, 40])
@pytest.mark.parametrize("min_repetitions", [1, 2, 3])
def test_kernel_aggregates_match_brute_force(window_us, min_repetitions, engine):
    """The kernel on its own (prefilter, partner ranges, work-balanced chunks, threads) against
    every pair looked at: isolated actions, repeated actions of one account on a target (the
    prefilter must not count those as partners) and sparse accounts (ids with gaps)."""
    np = pytest.importorskip("numpy")
    from fimiscope.coordination._kernel import pair_aggregates

    rng = np.random.default_rng(window_us or 7)
    n = 700
    aid = rng.choice(np.arange(0, 120, 3), n)
    tid = rng.integers(0, 30, n)
    us = rng.integers(0, 400, n)
    us[:50] = us[50:100]  # exact ties
    aid[100:130], tid[100:130] = aid[0], tid[0]  # one account acting again and again
    want = _brute_aggregates(aid, tid, us, window_us, min_repetitions)
    if window_us is None or window_us >= 40:  # the narrow windows may keep few pairs
        assert len(want) >= 5
    for threads in (1, 2):
        res = pair_aggregates(
            aid, tid, us, window_us=window_us, min_repetitions=min_repetitions, threads=threads
        )
        assert list(zip(res["a"], res["b"], strict=True)) == sorted(
            zip(res["a"], res["b"], strict=True)
        )  # ordered by (a, b)
        got = {
            (int(a), int(b)): (int(t), int(c), int(f), int(la), int(g))
            for a, b, t, c, f, la, g in zip(
                *(
                    res[k]
                    for k in ("a", "b", "n_targets", "n_coactions", "first_us", "last_us", "gap_us")
                ),
                strict=True,
            )
        }
        if window_us is None:  # times are not part of set overlap
            got = {k: (*v[:2], 0, 0, 0) for k, v in got.items()}
        assert len(got) == len(res["a"])
        assert got == want
    # already sorted input gives the same rows
    order = np.lexsort((us, tid))
    again = pair_aggregates(
        aid[order],
        tid[order],
        us[order],
        window_us=window_us,
        min_repetitions=min_repetitions,
        presorted=True,
    )
    names = ("a", "b", "n_targets", "n_coactions", "first_us", "last_us", "gap_us")
    if window_us is None:
        names = names[:4]
    assert sorted(zip(*(again[k] for k in names), strict=True)) == sorted(
        zip(*(res[k] for k in names), strict=True)
    )


@pytest.mark.parametrize("window", [None, 30])
@pytest.mark.parametrize("min_activity", [1, 3])
def test_kernel_encoding_matches_sql_on_awkward_names(window, min_activity, engine):
    """The kernel path encodes accounts and targets in Arrow, the SQL path in SQL joins: same
    rows (pairs, crowd pairs, crowd members) on ids whose binary order differs from a naive
    one (case, accents, CJK, emoji, digits), one id on two platforms, NULL platform, trace,
    account or time, empty targets and crowd cells (``max_cell=8``)."""
    rnd = random.Random(31)
    names = ["Zoë", "zoe", "Émile", "émile", "a", "B", "b", "用户", "😀", "u10", "u9", "U9", "ñ"]
    acts = []
    for i in range(900):
        acts.append(
            (
                rnd.choice(["x", "bluesky", "x", None if i % 97 == 0 else "x"]),
                None if i % 89 == 0 else rnd.choice(names),
                rnd.choice(["repost", "repost", None if i % 83 == 0 else "like"]),
                rnd.choice(["", "Þ3", "hot"] + [f"p{k}" for k in range(150)]),
                None if i % 79 == 0 else at(rnd.randrange(0, 200)),
                f"r{i}",
            )
        )
    acts += [
        ("x", f"c{k}", "repost", t, at(5), f"h{k}") for k in range(9) for t in ("hot", "p9", "p8")
    ]
    con = duckdb.connect()
    load(con, acts)
    kw = {"window": window, "min_activity": min_activity, "min_repetitions": 1, "max_cell": 8}
    out = {}
    for kernel in (False, True):
        sfx = "k" if kernel else "s"
        pair_counts(
            con,
            "acts",
            kernel=kernel,
            out=f"p_{sfx}",
            crowd_out=f"c_{sfx}",
            crowd_members_out=f"m_{sfx}",
            **kw,
        )
        out[kernel] = [
            con.execute(f"SELECT * FROM {t}_{sfx} ORDER BY ALL").fetchall() for t in "pcm"
        ]
        types = [con.execute(f"DESCRIBE {t}_{sfx}").fetchall() for t in "pcm"]
        out[kernel].append(types)
    assert pair_counts.last_engine == engine  # type: ignore[attr-defined]
    assert len(out[False][0]) >= 10 and len(out[False][1]) >= 1 and len(out[False][2]) >= 9
    assert out[True] == out[False]


def test_kernel_path_with_nothing_taking_part(engine):
    """No row takes part: both paths write an empty table with the same columns and types."""
    con = duckdb.connect()
    load(con, [("x", "u1", "repost", "", at(1), "r1"), ("x", "u2", "repost", None, at(2), "r2")])
    for kernel in (False, True):
        pair_counts(con, "acts", window=10, kernel=kernel, out=f"p{int(kernel)}")
    assert con.execute("SELECT count(*) FROM p1").fetchone() == (0,)
    assert con.execute("DESCRIBE p1").fetchall() == con.execute("DESCRIBE p0").fetchall()
