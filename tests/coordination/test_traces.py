"""Conformance suite every registered trace passes, and the co-text helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fimiscope.coordination.pairs import pair_counts
from fimiscope.coordination.textsim import clean_text, near_duplicate_clusters
from fimiscope.coordination.traces import SQLTrace, Trace, register_trace, traces
from fimiscope.errors import ConfigError
from fimiscope.store import Store

T0 = datetime(2024, 7, 1, tzinfo=UTC)
COLUMNS = ["platform", "account_id", "trace", "target", "at", "post_id", "t0"]


def _store_with_everything() -> Store:
    """Two accounts doing the same thing on every trace, one doing nothing alike, and
    empty entities (no text, empty URL) that must never match."""
    s = Store(":memory:")
    c = s.con
    c.execute(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind, text, text_norm)"
        " VALUES ('x', 'orig', 'author', ?, 'post', 'original post here', "
        "'original post here')",
        [T0],
    )
    for i, acct in enumerate(("u1", "u2", "u3")):
        at = T0 + timedelta(seconds=60 + i)
        same = acct != "u3"
        text = "vote for the future of japan now" if same else "something else entirely here"
        c.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, kind, "
            "ref_post_id) VALUES ('x', ?, ?, ?, 'repost', 'orig')",
            [f"rt{i}", acct, at],
        )
        c.execute("INSERT INTO post_refs VALUES ('x', ?, 'repost', 'orig', 'author')", [f"rt{i}"])
        for kind in ("quote", "reply"):
            pid = f"{kind}{i}"
            c.execute(
                "INSERT INTO posts (platform, post_id, account_id, created_at, kind, "
                "ref_post_id, text, text_norm) VALUES ('x', ?, ?, ?, ?, 'orig', ?, ?)",
                [pid, acct, at, kind, text, text],
            )
            c.execute("INSERT INTO post_refs VALUES ('x', ?, ?, 'orig', 'author')", [pid, kind])
        pid = f"p{i}"
        c.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, kind, text, "
            "text_norm) VALUES ('x', ?, ?, ?, 'post', ?, ?)",
            [pid, acct, at, text, text],
        )
        c.execute(
            "INSERT INTO post_urls VALUES ('x', ?, 0, 'u', NULL, ?, ?)",
            [
                pid,
                "https://a.example/x" if same else "https://b.example/y",
                "a.example" if same else "b.example",
            ],
        )
        for pos, tag in enumerate(("tag1", "tag2") if same else ("zz",)):
            c.execute("INSERT INTO post_hashtags VALUES ('x', ?, ?, ?, ?)", [pid, pos, tag, tag])
        c.execute(
            "INSERT INTO post_mentions VALUES ('x', ?, 0, 'h', ?, NULL)",
            [pid, "target" if same else "other"],
        )
        c.execute(
            "INSERT INTO post_media VALUES ('x', ?, 0, ?, 'photo', NULL, ?)",
            [pid, "m1" if same else "m2", "ff00" if same else "00ff"],
        )
        c.execute(
            "INSERT INTO engagements VALUES ('x', ?, 'like', 'orig', 'author', ?, NULL)", [acct, at]
        )
        # empty text: never a text target
        c.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, kind, text, "
            "text_norm) VALUES ('x', ?, ?, ?, 'post', '', NULL)",
            [f"e{i}", acct, at],
        )
    return s


@pytest.fixture(scope="module")
def store():
    s = _store_with_everything()
    yield s
    s.close()


@pytest.mark.parametrize("name", sorted(traces()))
def test_trace_conformance(store, name):
    trace = traces()[name]
    assert isinstance(trace, Trace)
    assert trace.description and trace.origin in ("existing", "created")
    sql = trace.build(store.con)
    rel = store.con.sql(sql)
    assert rel.columns == COLUMNS
    rows = rel.fetchall()
    assert rows, f"{name} produced no actions on a store that has every entity"
    names = {r[2] for r in rows}
    assert names <= {name, trace.untimed_name}
    # empty targets are NULL or '' only, never a shared placeholder
    assert all(r[3] is None or r[3] == "" or len(r[3]) > 0 for r in rows)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE _acts AS {sql}")
    pair_counts(store.con, "_acts", window=10, out="_tp")
    pairs = store.con.execute("SELECT account_a, account_b FROM _tp").fetchall()
    if name == "timing":
        return  # u1, u2, u3 post in consecutive seconds: no same-second pair
    # u1 and u2 act alike within 1 s; u3 differs (except on repost/quote/reply/like, where
    # all three act on the same post within 2 s).
    assert ("u1", "u2") in pairs
    if name not in ("repost", "quote", "reply", "like"):
        assert all("u3" not in p for p in pairs)
    assert all(a < b for a, b in pairs)


def test_registry_rejects_duplicates_and_non_traces():
    with pytest.raises(ConfigError):
        register_trace(traces()["repost"])
    with pytest.raises(ConfigError):
        register_trace("repost")  # type: ignore[arg-type]
    t = SQLTrace("plugin_test", "a plug-in", "SELECT 1")
    assert register_trace(t) is t
    assert "plugin_test" in traces()


def test_clean_text_strips_noise_and_keeps_japanese():
    assert clean_text("rt @a: 物価が高すぎる！ https://t.co/x") == "物価が高すぎる"
    assert clean_text("🙂🙂🙂 ok!!!") is None
    assert clean_text(None) is None
    # an added emoji or URL does not change the target
    assert clean_text("増税反対 みんなで声を上げよう 😡") == clean_text(
        "増税反対 みんなで声を上げよう https://x.y"
    )


def test_near_duplicates_cluster_small_edits_not_different_texts():
    texts = [
        "岸田政権の増税にみんなで反対の声を上げよう今すぐ",
        "岸田政権の増税にみんなで反対の声を上げよう今すぐに",
        "the weather in tokyo is lovely today, going to the park",
    ]
    labels = near_duplicate_clusters(texts)
    assert labels[0] == labels[1] != labels[2]


# -- co-text on hand-made fixtures ---------------------------------------------------------------

_CLEANING_CASES = [
    "rt @bot1: 物価が高すぎる！ https://t.co/x @pm 😡",
    "RT  @x_y.z: ｆｕｌｌ　ｗｉｄｔｈ text here ok",
    "@userhttps://a.b/c hello world this is long",
    "a_b c\u3000d\u2028e_f ghijklmnop www.example.com/x",
    "増税反対 みんなで声を上げよう 😡",
    "🙂🙂🙂 ok!!!",
    "голосуйте за будущее страны сегодня!!",
    "ok https://x.y",
    "",
    None,
]


def test_sql_cleaning_equals_python_cleaning():
    import duckdb

    from fimiscope.coordination.textsim import clean_text_sql

    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(_CLEANING_CASES)))
    got = con.execute(f"SELECT {clean_text_sql('x')} FROM t ORDER BY i").fetchall()
    assert [g[0] for g in got] == [clean_text(x) for x in _CLEANING_CASES]


def _text_store(texts: dict[str, str | None]) -> Store:
    """One original post per account; ``text_norm`` as ingest writes it (NFKC, lower case)."""
    import unicodedata

    s = Store(":memory:")
    for i, (acct, text) in enumerate(texts.items()):
        norm = unicodedata.normalize("NFKC", text).lower() if text is not None else None
        s.con.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, kind, text, "
            "text_norm) VALUES ('x', ?, ?, ?, 'post', ?, ?)",
            [f"p_{acct}", acct, T0 + timedelta(seconds=i), text, norm],
        )
    return s


_FIXTURE = {
    # Japanese copy-paste, emoji swapped, a URL / mention / RT prefix added: one exact text
    "ja1": "岸田政権の増税にみんなで反対の声を上げよう！今すぐ拡散 😡",
    "ja2": "岸田政権の増税にみんなで反対の声を上げよう！今すぐ拡散 🔥🔥 https://t.co/abc",
    "ja3": "RT @bot_01: 岸田政権の増税にみんなで反対の声を上げよう！今すぐ拡散 @kishida",
    # full-width variant of the same text: NFKC makes it identical
    "ja4": "岸田政権の増税にみんなで反対の声を上げよう！今すぐ拡散　😡",
    # small edits: near, not exact
    "ja5": "岸田政権の増税にみんなで反対の声を上げよう！今すぐ拡散して",
    "en1": "Vote for the future of Japan now, do not stay at home on Sunday",
    "en2": "ＶＯＴＥ for the future of japan now!! do not stay at home on ｓｕｎｄａｙ",
    "en3": "Vote for the future of Japan now, do not stay at home on Sundays",
    "ru1": "Голосуйте за будущее страны сегодня, не сидите дома",
    "ru2": "голосуйте за будущее страны сегодня — не сидите дома!",
    # different texts
    "x1": "The weather in Tokyo is lovely today, going to the park",
    "x2": "今日は東京で美味しいラーメンを食べました",
    # empty or too short: never a target
    "e1": "😡😡😡 https://t.co/a",
    "e2": "@someone ok",
    "e3": "",
    "e4": None,
}


def _groups(store: Store, trace_name: str) -> set[frozenset[str]]:
    sql = traces()[trace_name].build(store.con)
    rows = store.con.execute(
        f"SELECT target, list(account_id ORDER BY account_id) FROM ({sql}) "
        "WHERE target IS NOT NULL AND target <> '' GROUP BY target"
    ).fetchall()
    return {frozenset(r[1]) for r in rows}


def test_text_traces_pin_clusters_on_a_fixture():
    with _text_store(_FIXTURE) as s:
        s.con.execute("DROP TABLE IF EXISTS _fs_text_targets")
        exact = _groups(s, "text")
        near = _groups(s, "text_near")
        all_rows = s.con.execute("SELECT count(*) FROM _fs_text_targets").fetchall()[0][0]
    assert all_rows == len(_FIXTURE) - 1  # posts with a text_norm; too-short ones: NULL target
    assert frozenset({"ja1", "ja2", "ja3", "ja4"}) in exact
    assert frozenset({"en1", "en2"}) in exact
    assert frozenset({"ru1", "ru2"}) in exact
    assert frozenset({"ja1", "ja2", "ja3", "ja4", "ja5"}) in near
    assert frozenset({"en1", "en2", "en3"}) in near
    assert frozenset({"ru1", "ru2"}) in near
    for groups in (exact, near):
        members = set().union(*groups)
        assert not members & {"e1", "e2", "e3", "e4"}
        assert {"x1"} in [set(g) for g in groups] and {"x2"} in [set(g) for g in groups]
    assert len(near) == 5


def _brute_force_clusters(texts: list[str], ratio: float = 90.0) -> list[int]:
    from rapidfuzz.distance import Indel

    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if Indel.normalized_similarity(texts[i], texts[j]) * 100 >= ratio:
                ri, rj = find(i), find(j)
                parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(len(texts))]


def test_near_duplicates_match_brute_force_on_edited_copies():
    """Families of lightly edited copies (one to three characters changed, Japanese and
    English) and unrelated template look-alikes: LSH + verification finds exactly the
    clusters an all-pairs edit-similarity check finds."""
    import random

    rnd = random.Random(5)
    bases = [
        "この政権で消費税が進むとは思えない、みんなで声を上げよう今すぐ",
        "この政権で子育て支援が進むとは思えない、本当に残念な話だと思う",
        "うちの近所も外国人観光客ほんと増えた 共生の話をもっと冷静にしてほしい",
        "foreign residents in fukuoka are following the election closely today",
        "foreign residents in osaka are following the debate on tv tonight",
        "stop the tax increase now and tell your friends to vote on sunday",
    ]
    alphabet = "あいうえおかきくけこabcdefghij"
    texts = set()
    for b in bases:
        texts.add(b)
        for _ in range(8):
            t = list(b)
            for _ in range(rnd.randint(1, 3)):
                t[rnd.randrange(len(t))] = rnd.choice(alphabet)
            texts.add("".join(t))
    texts = sorted(texts)
    got = near_duplicate_clusters(texts).tolist()
    assert got == _brute_force_clusters(texts)
    assert len(set(got)) == len(bases)


def test_near_duplicate_clusters_small_inputs():
    assert near_duplicate_clusters([]).tolist() == []
    assert near_duplicate_clusters(["only one text here"]).tolist() == [0]
    assert near_duplicate_clusters(["ab", "ab", "abc"]).tolist() == [0, 0, 2]


def test_repost_engagements_join_the_repost_trace_once():
    """u1 reposted `orig` as a post and is also on its retweeted-by list (one action, the
    post's); u2 and u3 are only on the list: u2 with a time (a `repost` action), u3 without
    (`repost_untimed`, set-overlap evidence like X likes)."""
    s = Store(":memory:")
    c = s.con
    c.execute(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind) "
        "VALUES ('x', 'orig', 'author', ?, 'post')",
        [T0],
    )
    c.execute(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind, ref_post_id) "
        "VALUES ('x', 'rt1', 'u1', ?, 'repost', 'orig')",
        [T0 + timedelta(seconds=5)],
    )
    for acct, at in (("u1", None), ("u2", T0 + timedelta(seconds=7)), ("u3", None)):
        c.execute(
            "INSERT INTO engagements VALUES ('x', ?, 'repost', 'orig', 'author', ?, NULL)",
            [acct, at],
        )
    rows = c.sql(traces()["repost"].build(c)).fetchall()
    got = sorted((r[1], r[2], r[4] is not None, r[5]) for r in rows)
    assert got == [
        ("u1", "repost", True, "rt1"),
        ("u2", "repost", True, None),
        ("u3", "repost_untimed", False, None),
    ]
    assert {r[6] for r in rows} == {T0}  # t0: the reposted post's creation
    s.close()


def test_link_and_hashtag_give_one_action_per_post_and_target():
    """A post that carries the same URL twice (and the same tag twice) is one action."""
    s = Store(":memory:")
    c = s.con
    c.execute(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind) "
        "VALUES ('x', 'p', 'u1', ?, 'post')",
        [T0],
    )
    for pos in (0, 1):
        c.execute(
            "INSERT INTO post_urls VALUES ('x', 'p', ?, 'u', NULL, 'https://a.example/x', "
            "'a.example')",
            [pos],
        )
        c.execute("INSERT INTO post_hashtags VALUES ('x', 'p', ?, 'Tag', 'tag')", [pos])
    for name in ("link", "domain", "hashtag"):
        rows = c.sql(traces()[name].build(c)).fetchall()
        assert len(rows) == 1, name
    s.close()
