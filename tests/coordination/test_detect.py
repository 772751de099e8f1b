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


def test_since_until_restricts_actions_and_is_recorded():
    """The bots act on 15 of the 80 posts (post p appears at T0 + p hours). A period that
    ends before most of them leaves too few co-reposts for an edge; the full period finds them.
    Actions are kept when since <= at < until, and the bounds are in the run's parameters."""
    with _world() as s:
        since, until = T0 + timedelta(hours=10), T0 + timedelta(hours=30)
        r = detect(s, traces=("repost",), window=30, since=since, until=until)
        params = s.run(r.run_id)["parameters"]
        assert params["since"] == since.isoformat() and params["until"] == until.isoformat()
        got = s.con.execute('SELECT min("at"), max("at"), count(*) FROM _fs_actions').fetchall()[0]
        assert since <= got[0] and got[1] < until
        want = s.con.execute(
            "SELECT count(*) FROM posts WHERE kind = 'repost' AND created_at >= ? "
            "AND created_at < ?",
            [since, until],
        ).fetchall()[0][0]
        assert got[2] == want > 0
        # naive datetimes are UTC; an empty period finds nothing; only `since` works alone
        r2 = detect(
            s, traces=("repost",), window=30, since=T0.replace(tzinfo=None) + timedelta(days=30)
        )
        assert r2.edges == 0 and r2.groups == ()
        r3 = detect(s, traces=("repost",), window=30, since=T0)
        assert [set(g.members) for g in r3.groups] == [{f"bot{b}" for b in range(6)}]
        assert s.run(r3.run_id)["parameters"]["until"] is None


def test_until_is_exclusive_and_period_is_checked():
    with _world() as s:
        first = s.con.execute("SELECT min(created_at) FROM posts WHERE kind = 'repost'").fetchall()[
            0
        ][0]
        detect(s, traces=("repost",), window=30, until=first)
        assert s.con.execute("SELECT count(*) FROM _fs_actions").fetchall()[0][0] == 0
        detect(s, traces=("repost",), window=30, since=first, until=first + timedelta(seconds=1))
        assert s.con.execute("SELECT count(*) FROM _fs_actions").fetchall()[0][0] >= 1
        with pytest.raises(ConfigError):
            detect(s, traces=("repost",), since=first, until=first)
        with pytest.raises(ConfigError):
            detect(s, traces=("repost",), since="2024-01-01")  # type: ignore[arg-type]


def crowd_rows(seed: int = 8) -> list[tuple]:
    """200 viral posts, each reposted within 10 s by 40 of 2,000 organic accounts; 8 bots
    join the bursts of 15 of them. Rows for ``posts``."""
    rnd = random.Random(seed)
    rows, n = [], 0
    bot_posts = set(rnd.sample(range(200), 15))
    for p in range(200):
        t = T0 + timedelta(hours=p)
        rows.append(("x", f"v{p}", "author", t, "post", None))
        actors = [f"o{m:04d}" for m in rnd.sample(range(2000), 40)]
        if p in bot_posts:
            actors += [f"cbot{b}" for b in range(8)]
        for a in actors:
            at_ = t + timedelta(seconds=600 + rnd.uniform(0, 9.9))
            rows.append(("x", f"c{n}", a, at_, "repost", f"v{p}"))
            n += 1
    return rows


INSERT_POSTS = (
    "INSERT INTO posts (platform, post_id, account_id, created_at, kind, "
    "ref_post_id) VALUES (?, ?, ?, ?, ?, ?)"
)


def test_bots_piling_onto_viral_posts_are_found_by_crowd_membership():
    """Every viral burst of :func:`crowd_rows` is a crowd cell (> max_cell 20), so no
    co-repost counts there. Crowd co-membership under the popularity null: a bot pair shares
    15 crowd targets where n_a n_b sum(c^2)/C^2 ~ 15 * 15 / 200 ~ 1.1 are expected
    (p ~ 1e-12); organic pairs share 0-2. The bots are the one group, through
    `repost_crowd`."""
    s = Store(":memory:")
    s.con.executemany(INSERT_POSTS, crowd_rows())
    with s:
        r = detect(s, traces=("repost",), window=30, max_cell=20)
        assert [set(g.members) for g in r.groups] == [{f"cbot{b}" for b in range(8)}]
        assert r.groups[0].traces == ("repost_crowd",)
        assert r.edges == 28
        # with the cap off, the same bursts are ordinary co-reposts (and cost 48^2 per post)
        r2 = detect(s, traces=("repost",), window=30, max_cell=None)
        assert s.run(r2.run_id)["parameters"]["max_cell"] is None
        with pytest.raises(ConfigError):
            detect(s, traces=("repost",), max_cell=1)


def test_cli_detect_period_and_engine_check(tmp_path, capsys):
    import orjson

    from fimiscope.cli import main

    path = tmp_path / "s.duckdb"
    with _world() as mem:
        mem.con.execute(f"ATTACH '{path}' AS f")
        mem.con.execute("CREATE TABLE f.world AS SELECT * FROM posts")
    with Store(path) as s:
        s.con.execute("INSERT INTO posts BY NAME SELECT * FROM world")
        s.con.execute("DROP TABLE world")
    argv = ["detect", "--store", str(path), "--traces", "repost", "--window", "30", "--json"]
    assert main([*argv, "--since", "2024-07-01", "--until", "2024-07-05T08:00:00"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    with Store(path) as s:
        params = s.run(out["run_id"])["parameters"]
    assert params["since"] == "2024-07-01T00:00:00+00:00"
    assert params["until"] == "2024-07-05T08:00:00+00:00"
    assert main([*argv, "--engine", "hadoop"]) == 2
    assert "engine" in capsys.readouterr().err
