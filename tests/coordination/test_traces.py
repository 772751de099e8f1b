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
