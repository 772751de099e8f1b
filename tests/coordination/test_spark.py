"""The Spark twin gives exactly the rows of the DuckDB pair definition.

One Spark session serves the module (start-up costs ~10 s). Times are compared as integer
microseconds (``unix_micros`` / ``epoch_us``) so that no Python time-zone conversion sits
between the engines.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fimiscope.coordination.pairs import pair_counts
from fimiscope.coordination.traces import get_trace
from fimiscope.errors import ConfigError
from fimiscope.store import Store

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        shutil.which("java") is None, reason="Spark needs a Java runtime (java not on PATH)"
    ),
    # PySpark's py4j gateway leaves its JVM socket to the garbage collector; the ResourceWarning
    # surfaces as an unraisable-exception warning in whichever test happens to run next.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
PAIR_SQL = (
    "SELECT platform, trace, account_a, account_b, n_targets, n_coactions, "
    "epoch_us(first_at), epoch_us(last_at), mean_gap_s FROM {t} ORDER BY ALL"
)
SPARK_COLS = (
    "platform",
    "trace",
    "account_a",
    "account_b",
    "n_targets",
    "n_coactions",
    "unix_micros(first_at)",
    "unix_micros(last_at)",
    "mean_gap_s",
)


@pytest.fixture(scope="module")
def spark():
    from fimiscope.coordination.spark import local_session

    session = local_session("fimiscope-tests", shuffle_partitions=2)
    yield session
    session.stop()


def _table(rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "platform": pa.array(cols[0], pa.string()),
            "account_id": pa.array(cols[1], pa.string()),
            "trace": pa.array(cols[2], pa.string()),
            "target": pa.array(cols[3], pa.string()),
            "at": pa.array(cols[4], pa.timestamp("us", tz="UTC")),
            "post_id": pa.array(cols[5], pa.string()),
        }
    )


def _duck(table: pa.Table, **kw) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("src", table)
    con.execute("CREATE TABLE acts AS SELECT * FROM src")
    pair_counts(con, "acts", **kw)
    rows = [
        tuple(int(v) if isinstance(v, int) else v for v in r)
        for r in con.sql(PAIR_SQL.format(t="pairs")).fetchall()
    ]
    con.close()
    return rows


def _spark(spark, table: pa.Table, **kw) -> list[tuple]:
    from fimiscope.coordination.spark import PAIR_COLUMNS, spark_pair_counts

    out = spark_pair_counts(spark, spark.createDataFrame(table), **kw)
    assert tuple(out.columns) == PAIR_COLUMNS
    return sorted(tuple(r) for r in out.selectExpr(*SPARK_COLS).collect())


def s(seconds: float) -> datetime:
    return T0 + timedelta(microseconds=round(seconds * 1e6))


def us(seconds: float) -> int:
    return T0_US + round(seconds * 1e6)


# Hand-made actions (platform, account, trace, target, at, post_id).
HAND = [
    ("x", "u1", "repost", "p1", s(0), "m1"),
    ("x", "u2", "repost", "p1", s(60), "m2"),  # exactly Δt after u1: inclusive, co-acts
    ("x", "u3", "repost", "p1", s(60.000001), "m3"),  # 1 µs too late for u1, 1 µs after u2
    ("x", "u4", "repost", "p1", s(500), "m4"),  # alone in time
    ("x", "u1", "repost", "p2", s(100), "m5"),
    ("x", "u2", "repost", "p2", s(130), "m6"),
    ("x", "u1", "repost", "p2", s(150), "m7"),  # u1 twice on p2: both actions count
    ("x", "u1", "repost", "", s(0), "m8"),  # empty target: never matches
    ("x", "u2", "repost", "", s(0), "m9"),
    ("x", "u1", "repost", None, s(0), "m10"),  # NULL target: never matches
    ("x", "u2", "repost", None, s(0), "m11"),
    ("x", "u1", "repost", "p5", None, None),  # no time: set-overlap mode only
    ("x", "u2", "repost", "p5", s(10), None),
    ("bsky", "u1", "repost", "p1", s(0), "b1"),  # other platform: its own pair
    ("bsky", "u2", "repost", "p1", s(0), "b2"),
]

# window = 60 s
#   (x, u1, u2): p1 gap 60 (earlier 0); p2: u1@100-u2@130 gap 30 (earlier 100),
#                u1@150-u2@130 gap 20 (earlier 130) -> 2 targets, 3 co-actions,
#                first 0, last 130, mean (60 + 30 + 20) / 3
#   (x, u2, u3): p1 gap 1 µs (earlier u2 @60)
#   (x, u1, u3): p1 gap 60.000001 > 60 -> no pair; u4 is 440 s from everyone -> no pair
#   (bsky, u1, u2): p1 gap 0
W60 = [
    ("bsky", "repost", "u1", "u2", 1, 1, us(0), us(0), 0.0),
    ("x", "repost", "u1", "u2", 2, 3, us(0), us(130), 110_000_000 / 3 / 1e6),
    ("x", "repost", "u2", "u3", 1, 1, us(60), us(60), 1 / 1 / 1e6),
]
# min_activity = 2 (distinct targets among rows that take part; p5's NULL time does not):
#   x: u1 {p1, p2} kept, u2 {p1, p2, p5} kept, u3 {p1} and u4 {p1} dropped;
#   bsky: u1 {p1}, u2 {p1} dropped.
W60_ACT2 = [W60[1]]
# min_repetitions = 2: only (x, u1, u2) co-acted on two targets.
W60_REP2 = [W60[1]]
# set overlap: every two accounts on a target, times ignored.
#   (x, u1, u2): p1 (1), p2 (u1 twice x u2 once = 2), p5 (1) -> 3 targets, 4 co-actions
#   every other pair among u1..u4 on p1: 1 target, 1 co-action; (bsky, u1, u2) likewise.
OVERLAP = [
    ("bsky", "repost", "u1", "u2", 1, 1, None, None, None),
    ("x", "repost", "u1", "u2", 3, 4, None, None, None),
    ("x", "repost", "u1", "u3", 1, 1, None, None, None),
    ("x", "repost", "u1", "u4", 1, 1, None, None, None),
    ("x", "repost", "u2", "u3", 1, 1, None, None, None),
    ("x", "repost", "u2", "u4", 1, 1, None, None, None),
    ("x", "repost", "u3", "u4", 1, 1, None, None, None),
]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"window": 60}, W60),
        ({"window": 60, "min_activity": 2}, W60_ACT2),
        ({"window": 60, "min_repetitions": 2}, W60_REP2),
        ({"window": None}, OVERLAP),
    ],
    ids=["window", "min_activity", "min_repetitions", "set_overlap"],
)
def test_hand_made_actions_match_duckdb_and_the_worked_answer(spark, kw, expected):
    table = _table(HAND)
    assert _duck(table, **kw) == expected
    assert _spark(spark, table, **kw) == expected


def _generated(seed: int = 7, n: int = 4000, z: float = 2.0, decay: float = 7200) -> pa.Table:
    """Zipf-popular targets with a hot one, reposts decaying after the post, a bot group
    that reposts within seconds, some NULL times and empty targets, and microsecond times."""
    rng = np.random.default_rng(seed)
    n_bot = 400
    target = rng.zipf(z, n - n_bot) % 300
    acc = rng.integers(0, 3000, n - n_bot)
    post_t = rng.uniform(0, 6 * 3600, 300)
    t = post_t[target] + rng.exponential(decay, n - n_bot)
    bot_targets = rng.choice(300, 20, replace=False)
    bt = np.repeat(bot_targets, n_bot // 20)
    bacc = 1000 + np.tile(np.arange(n_bot // 20), 20)
    t = np.concatenate([t, post_t[bt] + rng.uniform(0, 8, n_bot)])
    target = np.concatenate([target, bt])
    acc = np.concatenate([acc, bacc])
    micros = T0_US + np.round(t * 1e6).astype(np.int64)
    tgt = [f"p{v}" for v in target]
    for i in rng.choice(len(tgt), 50, replace=False):
        tgt[i] = ""
    ats = pa.array(micros, pa.timestamp("us", tz="UTC"))
    null_at = np.zeros(len(tgt), bool)
    null_at[rng.choice(len(tgt), 100, replace=False)] = True
    ats = pc.if_else(pa.array(null_at), pa.scalar(None, pa.timestamp("us", tz="UTC")), ats)
    return pa.table(
        {
            "platform": pa.array(["x"] * len(tgt)),
            "account_id": pa.array([f"a{v}" for v in acc]),
            "trace": pa.array(["repost"] * len(tgt)),
            "target": pa.array(tgt),
            "at": ats,
            "post_id": pa.array([f"m{i}" for i in range(len(tgt))]),
        }
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"window": 60},
        {"window": 2.5, "min_activity": 3, "min_repetitions": 2},
        {"window": None, "min_activity": 2, "min_repetitions": 3},
    ],
    ids=["window60", "window2.5-filters", "set_overlap-filters"],
)
def test_generated_actions_match_duckdb_exactly(spark, kw):
    table = _generated()
    expected = _duck(table, **kw)
    assert len(expected) > 100  # a real workload, not an empty comparison
    assert _spark(spark, table, **kw) == expected


def test_actions_from_parquet_reads_what_duckdb_writes(spark, tmp_path):
    from fimiscope.coordination.spark import ACTION_COLUMNS, actions_from_parquet

    path = tmp_path / "actions.parquet"
    con = duckdb.connect()
    con.register("src", _table(HAND))
    con.execute(f"COPY src TO '{path}' (FORMAT parquet)")
    df = actions_from_parquet(spark, path)
    assert tuple(df.columns) == ACTION_COLUMNS
    got = sorted(
        (
            tuple(r)
            for r in df.selectExpr(
                "platform", "account_id", "trace", "target", "unix_micros(at)", "post_id"
            ).collect()
        ),
        key=repr,
    )
    want = sorted(
        (
            (p, a, tr, tg, None if t is None else round(t.timestamp() * 1e6), m)
            for p, a, tr, tg, t, m in HAND
        ),
        key=repr,
    )
    assert got == want


def _store_export(root: Path) -> None:
    """A tiny store: two reposts of o1, likes with and without time, links and tags."""
    with Store(":memory:") as store:
        store.con.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, kind, ref_post_id) "
            "VALUES "
            "('x', 'o1', 'a0', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'post', NULL), "
            "('x', 'r1', 'a1', TIMESTAMPTZ '2024-01-01 00:00:05.000123+00', 'repost', 'o1'), "
            "('x', 'r2', 'a2', TIMESTAMPTZ '2024-01-01 00:00:20+00', 'repost', 'o1'), "
            "('x', 'q1', 'a1', TIMESTAMPTZ '2024-01-01 00:01:00+00', 'post', NULL), "
            "('x', 'q2', 'a2', TIMESTAMPTZ '2024-01-01 00:01:30+00', 'post', NULL), "
            "('x', 'r3', 'a3', TIMESTAMPTZ '2024-01-01 00:01:31+00', 'repost', 'q1')"
        )
        store.con.execute(
            'INSERT INTO engagements (platform, account_id, kind, target_post_id, "at") VALUES '
            "('x', 'a1', 'like', 'o1', TIMESTAMPTZ '2024-01-01 00:00:01+00'), "
            "('x', 'a2', 'like', 'o1', NULL), ('x', 'a3', 'follow', NULL, NULL)"
        )
        store.con.execute(
            "INSERT INTO post_urls (platform, post_id, position, url_norm) VALUES "
            "('x', 'q1', 0, 'https://e.example/a'), ('x', 'q2', 0, 'https://e.example/a'), "
            "('x', 'r3', 0, 'https://e.example/a')"  # a repost's link: not a co-link action
        )
        store.con.execute(
            "INSERT INTO post_hashtags (platform, post_id, position, tag_norm) VALUES "
            "('x', 'q1', 0, 'vote'), ('x', 'q2', 0, 'vote'), ('x', 'q2', 1, 'now')"
        )
        for table in ("posts", "engagements", "post_urls", "post_hashtags"):
            store.export_table(table, root / f"{table}.parquet")


def test_store_export_gives_the_actions_of_the_duckdb_traces(spark, tmp_path):
    from fimiscope.coordination.spark import STORE_TRACES, actions_from_store_export

    _store_export(tmp_path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("posts", "engagements", "post_urls", "post_hashtags"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{tmp_path / table}.parquet')"
        )
    want = []
    for name in STORE_TRACES:
        sql = get_trace(name).build(con)
        want += con.sql(
            f'SELECT platform, account_id, trace, target, epoch_us("at"), post_id FROM ({sql})'
        ).fetchall()
    got = (
        actions_from_store_export(spark, tmp_path)
        .selectExpr("platform", "account_id", "trace", "target", "unix_micros(at)", "post_id")
        .collect()
    )
    assert sorted(map(tuple, got), key=repr) == sorted(want, key=repr)
    # repost: r1, r2 (o1), r3 (q1); like: a1 timed, a2 untimed; link: q1, q2; hashtag: 3 rows
    assert len(want) == 3 + 2 + 2 + 3


def test_bad_parameters_are_refused_before_spark_runs(spark):
    from fimiscope.coordination.spark import spark_pair_counts

    df = spark.createDataFrame(_table(HAND))
    with pytest.raises(ConfigError, match="`window` of spark_pair_counts"):
        spark_pair_counts(spark, df, window=-1)
    with pytest.raises(ConfigError, match="`min_repetitions`"):
        spark_pair_counts(spark, df, window=60, min_repetitions=0)


# -- the crowd rule and detect(engine="spark") ---------------------------------------------------
def _crowded() -> pa.Table:
    """Dense organic actions plus 12 viral bursts (crowd cells at max_cell 15) that 6 bots
    join (8 of them)."""
    rng = np.random.default_rng(9)
    rows = []
    for i in range(3000):
        rows.append(
            (
                "x",
                f"u{int(rng.integers(20)):02d}",
                "repost",
                f"p{int(rng.integers(30))}",
                s(float(rng.uniform(0, 600))),
                f"m{i}",
            )
        )
    for v in range(12):
        base = 10_000 + 1000 * v
        actors = [f"o{int(a):03d}" for a in rng.choice(300, 40, replace=False)]
        actors += [f"bot{b}" for b in range(6)] if v < 8 else []
        for j, a in enumerate(actors):
            rows.append(
                ("x", a, "repost", f"viral{v}", s(base + float(rng.uniform(0, 9))), f"v{v}-{j}")
            )
    return _table(rows)


def test_crowd_rule_and_crowd_pairs_match_duckdb(spark):
    from fimiscope.coordination.spark import PAIR_COLUMNS, spark_crowd_pairs

    table = _crowded()
    kw = {"window": 10, "min_activity": 2, "min_repetitions": 3}
    expected = _duck(table, max_cell=15, **kw)
    assert len(expected) > 50
    assert expected != _duck(table, max_cell=None, **kw)  # the cap matters here
    assert _spark(spark, table, max_cell=15, **kw) == expected

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("src", table)
    con.execute("CREATE TABLE acts AS SELECT * FROM src")
    pair_counts(con, "acts", max_cell=15, crowd_out="crowd", crowd_members_out="mem", **kw)
    want = con.sql(PAIR_SQL.format(t="crowd")).fetchall()
    want_mem = con.sql("SELECT * FROM mem ORDER BY ALL").fetchall()
    pairs, members = spark_crowd_pairs(spark, spark.createDataFrame(table), max_cell=15, **kw)
    assert tuple(pairs.columns) == PAIR_COLUMNS
    got = sorted(tuple(r) for r in pairs.selectExpr(*SPARK_COLS).collect())
    assert got == [tuple(r) for r in want]
    bots = {(f"bot{i}", f"bot{j}") for i in range(6) for j in range(i + 1, 6)}
    assert {(r[2], r[3]) for r in want if r[4] == 8} >= bots  # 8 shared crowds each
    assert sorted(tuple(r) for r in members.collect()) == [tuple(r) for r in want_mem]


def test_detect_on_spark_equals_detect_on_duckdb(spark):
    """The whole detect run with the pair step on Spark writes the same edges, per-trace
    evidence and groups as on DuckDB: timed co-reposts (the bots of ``_world``) and crowd
    co-membership (the bots of ``crowd_rows``)."""
    from fimiscope.coordination import detect

    from .test_detect import INSERT_POSTS, _world, crowd_rows

    with _world() as st:
        st.con.executemany(INSERT_POSTS, crowd_rows())
        kw = {"traces": ("repost",), "window": 30, "max_cell": 20}
        runs = [detect(st, engine=e, **kw) for e in ("duckdb", "spark")]
        q = "SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ? ORDER BY ALL"
        for t in ("coord_edges", "coord_edge_traces", "coord_members"):
            a, b = (st.con.execute(q.format(t=t), [r.run_id]).fetchall() for r in runs)
            assert a == b and len(a) > 0, t
        groups = [sorted(set(g.members) for g in r.groups) for r in runs]
        assert groups[0] == groups[1]
        assert {f"bot{b}" for b in range(6)} in groups[0]
        assert {f"cbot{b}" for b in range(8)} in groups[0]
        assert st.run(runs[1].run_id)["parameters"]["engine"] == "spark"
