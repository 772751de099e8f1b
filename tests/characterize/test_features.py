"""Hand-computed automation features on a three-account fixture."""

from __future__ import annotations

import math

import pytest

from fimiscope.characterize.features import compute_features
from fimiscope.store import Store

T0 = "2025-07-10 00:00:00+00"


def _fixture(store: Store) -> None:
    con = store.con
    # account, handle, created, followers, following, default image
    for acc, handle, created, fol, fing, img in (
        ("A", "yuki12345678", "2025-07-01 00:00:00+00", 9, 99, True),
        ("B", "hana_cafe", "2025-07-03 00:00:00+00", 500, 100, False),
        ("C", "riku42", "2025-06-01 00:00:00+00", 100, 100, False),
    ):
        con.execute(
            "INSERT INTO accounts (platform, account_id, handle, handle_norm, created_at, "
            "followers_count, following_count,"
            " default_profile_image) VALUES ('x', ?, ?, ?, ?, ?, ?, ?)",
            [acc, handle, handle, created, fol, fing, img],
        )
    # A: post at 0 s, post at 60 s (same text as B's), repost at 180 s, like at 600 s.
    rows = [
        ("a1", "A", 0, "post", "hello world", "Twitter Web App"),
        ("a2", "A", 60, "post", "same slogan", "autopost-jp"),
        ("a3", "A", 180, "repost", None, "autopost-jp"),
        ("b1", "B", 30, "post", "same slogan", "Twitter for iPhone"),
        ("c1", "C", 40, "post", "unique", "Twitter for iPhone"),
    ]
    for pid, acc, sec, kind, text, client in rows:
        con.execute(
            "INSERT INTO posts (platform, post_id, account_id,"
            " created_at, kind, text_norm, client, "
            "ref_post_id) VALUES ('x', ?, ?, TIMESTAMPTZ '2025-07-10 00:00:00+00' + to_seconds(?), "
            "?, ?, ?, ?)",
            [pid, acc, sec, kind, text, client, "b1" if kind == "repost" else None],
        )
    con.execute(
        "INSERT INTO engagements VALUES ('x', 'A', 'like', 'c1', 'C', "
        "TIMESTAMPTZ '2025-07-10 00:10:00+00', NULL)"
    )
    con.execute("INSERT INTO runs (run_id, stage, status) VALUES ('d1', 'detect', 'ok')")
    for acc in "ABC":
        con.execute("INSERT INTO coord_members VALUES ('d1', 0, 'x', ?, 2, 1.0)", [acc])


def _features(store: Store) -> dict[str, dict[str, object]]:
    compute_features(store.con, "d1")
    cur = store.con.execute("SELECT * FROM _ch_features")
    names = [d[0] for d in cur.description]
    return {r[1]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_hand_computed_features(store: Store) -> None:
    _fixture(store)
    f = _features(store)["A"]
    # actions at 0, 60, 180, 600 s -> gaps 60, 120, 420; mean 200, sd sqrt(24800)
    assert f["n_actions"] == 4
    assert f["n_posts"] == 3
    assert f["active_days"] == 1.0  # 600 s, floored at one day
    assert f["rate_per_day"] == 4.0
    sd = math.sqrt(((60 - 200) ** 2 + (120 - 200) ** 2 + (420 - 200) ** 2) / 3)
    assert f["burstiness"] == pytest.approx((sd - 200) / (sd + 200))
    # log2 bins of 61, 121, 421 s: 5, 6, 8 -> three equal bins -> ln 3 / ln 3
    assert f["iet_entropy"] == pytest.approx(1.0)
    assert f["hour_entropy"] == pytest.approx(0.0)  # every action in hour 00 UTC
    assert f["repost_share"] == pytest.approx(1 / 3)
    assert f["dup_text_share"] == pytest.approx(0.5)  # "same slogan" also posted by B
    assert f["age_days"] == pytest.approx(9.0)  # 07-01 -> 07-10
    assert f["creation_burst_share"] == pytest.approx(0.5)  # B within 3 days, C not
    assert f["handle_digit_tail"] == 8
    assert f["default_handle"] is True
    assert f["default_profile"] is True
    assert f["follower_ratio_log10"] == pytest.approx(-1.0)  # log10(10 / 100)
    assert f["third_party_client_share"] == pytest.approx(2 / 3)  # autopost-jp twice
    assert f["clients"] == "autopost-jp:2,Twitter Web App:1"


def test_other_accounts(store: Store) -> None:
    _fixture(store)
    f = _features(store)
    assert f["B"]["handle_digit_tail"] == 0 and f["B"]["default_handle"] is False
    assert f["C"]["handle_digit_tail"] == 2 and f["C"]["default_handle"] is False
    assert f["C"]["creation_burst_share"] == 0.0
    assert f["B"]["burstiness"] is None  # one action: no inter-event time
    assert f["B"]["dup_text_share"] == 1.0
    assert f["C"]["third_party_client_share"] == 0.0
