"""detect() end to end on a small hand-made store; parameter validation; calibration."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fimiscope.coordination import detect
from fimiscope.errors import ConfigError
from fimiscope.store import Store

T0 = datetime(2024, 7, 1, tzinfo=UTC)


def _world(seed: int = 1, bots: int = 6, humans: int = 60, posts: int = 80) -> Store:
    """Humans repost random posts with delays of minutes to hours; the bots repost 15 of the
    posts, each at a random moment 20 min-4 h after it appeared, all within 5 s of each other.
    """
    rnd = random.Random(seed)
    s = Store(":memory:")
    rows = []
    for p in range(posts):
        rows.append(("x", f"p{p}", "author", T0 + timedelta(hours=p), "post", None))
    n = 0
    for h in range(humans):
        for p in rnd.sample(range(posts), 12):
            d = rnd.lognormvariate(7.5, 1.2)
            rows.append(
                ("x", f"r{n}", f"h{h:03d}", T0 + timedelta(hours=p, seconds=d), "repost", f"p{p}")
            )
            n += 1
    for p in rnd.sample(range(posts), 15):
        trigger = rnd.uniform(1200, 14400)
        for b in range(bots):
            rows.append(
                (
                    "x",
                    f"r{n}",
                    f"bot{b}",
                    T0 + timedelta(hours=p, seconds=trigger + rnd.uniform(0, 5)),
                    "repost",
                    f"p{p}",
                )
            )
            n += 1
    s.con.executemany(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind, "
        "ref_post_id) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return s


def test_detect_finds_the_bots_and_nothing_else():
    with _world() as s:
        r = detect(s, traces=("repost",), window=30)
        assert [set(g.members) for g in r.groups] == [{f"bot{b}" for b in range(6)}]
        assert r.edges == 15  # 6 bots -> 15 pairs, all significant
        g = s.con.execute(
            "SELECT size, n_edges, density, summary FROM coord_groups WHERE run_id = ?", [r.run_id]
        ).fetchone()
        assert g[:3] == (6, 15, 1.0) and "6 accounts" in g[3]
        ev = s.con.execute(
            "SELECT evidence FROM coord_evidence WHERE run_id = ?", [r.run_id]
        ).fetchone()[0]
        assert '"repost"' in ev
        params = s.run(r.run_id)["parameters"]
        assert params["window_"] == 30 and params["tested_pairs_"] > 0
        assert s.run(r.run_id)["status"] == "ok"


def test_detect_estimates_window_and_flags_fast():
    with _world() as s:
        r = detect(s, traces=("repost",))
        assert r.window_estimated and 1 <= r.window <= 3600
        assert s.con.execute("SELECT bool_and(fast) FROM coord_edges").fetchone()[0] in (True, None)


def test_time_permuted_world_gives_no_edges():
    """Calibration: shuffle times within each post; synchrony is gone, edges must vanish."""
    with _world(seed=3) as s:
        s.con.execute(
            "CREATE TEMP TABLE sh AS SELECT post_id, created_at AS c, "
            "row_number() OVER (PARTITION BY ref_post_id ORDER BY post_id) AS i, "
            "row_number() OVER (PARTITION BY ref_post_id ORDER BY hash(post_id, 7)) AS j, "
            "ref_post_id FROM posts WHERE kind = 'repost'"
        )
        s.con.execute(
            "UPDATE posts SET created_at = x.c FROM (SELECT a.post_id, b.c FROM sh a JOIN sh b "
            "ON a.ref_post_id = b.ref_post_id AND a.i = b.j) x WHERE posts.post_id = x.post_id"
        )
        r = detect(s, traces=("repost",), window=30)
        assert r.edges <= 1 and r.groups == ()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"window": 0},
            "`window` of detect must be a positive number of seconds, or None (estimate); got 0.",
        ),
        ({"traces": ("nope",)}, "`traces` of detect must be a non-empty sequence"),
        ({"min_group_size": 1}, "`min_group_size` of detect must be an integer >= 2; got 1."),
        ({"expected_false_edges": -1}, "`expected_false_edges` of detect"),
    ],
)
def test_bad_parameters_fail_before_running(kw, message):
    with Store(":memory:") as s:
        with pytest.raises(ConfigError) as err:
            detect(s, **kw)
        assert str(err.value).startswith(message)
        assert s.count("runs") == 0


def test_export_run_writes_gephi_and_tables(tmp_path):
    import xml.etree.ElementTree as ET

    from fimiscope.coordination.export import export_run

    with _world() as s:
        r = detect(s, traces=("repost",), window=30)
        files = export_run(s, r.run_id, tmp_path)
    names = {f.name for f in files}
    assert {
        "coordination.gexf",
        "coordination.graphml",
        "coord_edges.parquet",
        "coord_groups.csv",
    } <= names
    gexf = ET.parse(tmp_path / "coordination.gexf").getroot()
    ns = {"g": "http://gexf.net/1.3"}
    assert len(gexf.findall(".//g:edge", ns)) == 15
    graphml = ET.parse(tmp_path / "coordination.graphml").getroot()
    assert len(graphml.findall(".//{http://graphml.graphdrawing.org/xmlns}node")) == 6


def _posting_world(seed: int, accounts: int = 120, posts: int = 40, cron: int = 0) -> Store:
    """Original posts only: people post at random moments with a daily rhythm (evenings
    busier); ``cron`` scheduled accounts post at hh:00:00 of random hours."""
    rnd = random.Random(seed)
    s = Store(":memory:")
    rows = []
    for a in range(accounts):
        for i in range(posts):
            day = rnd.randrange(14)
            hour = rnd.choices(range(24), weights=[1] * 7 + [2] * 10 + [5] * 5 + [2] * 2)[0]
            at = T0 + timedelta(days=day, hours=hour, seconds=rnd.randrange(3600))
            rows.append(("x", f"h{a}_{i}", f"h{a:03d}", at, "post"))
    for c in range(cron):
        for i, hour in enumerate(rnd.sample(range(14 * 24), 30)):
            rows.append(("x", f"c{c}_{i}", f"cron{c}", T0 + timedelta(hours=hour), "post"))
    s.con.executemany(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return s


@pytest.mark.parametrize("seed", [1, 2])
def test_timing_trace_is_calibrated_on_organic_posting(seed):
    """Calibration of `timing`: independent posters with a shared daily rhythm give <= E edges."""
    with _posting_world(seed) as s:
        r = detect(s, traces=("timing",), window=1, min_repetitions=2)
        assert r.edges <= 1 and r.groups == ()


def test_timing_trace_flags_scheduled_posters():
    """Why `timing` is off by default: scheduling tools posting on the hour share seconds
    without any coordination between their users (docs/methods.md, §1)."""
    with _posting_world(3, accounts=30, cron=4) as s:
        r = detect(s, traces=("timing",), window=1, min_repetitions=2)
        members = {m for g in r.groups for m in g.members}
        assert members == {f"cron{c}" for c in range(4)}
