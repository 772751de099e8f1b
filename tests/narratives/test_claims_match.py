"""Matching posts to fact-checked claims across Japanese, English and Russian."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.ingest import ingest
from fimiscope.narratives import (
    DEFAULT_CROSS_LINGUAL_THRESHOLD,
    DEFAULT_THRESHOLD,
    claim_spread,
    list_claim_matches,
    load_claims,
    match_claims,
)
from fimiscope.narratives.text import script_language
from fimiscope.store import Store
from tests.conftest import page, tweet, user
from tests.narratives.test_claimreview import JFC

STATING = {  # post id -> text that states the claim (some with emoji, links, tags)
    11: "日本が対露制裁の解除を開始したらしい😡 #参院選",
    12: "【拡散】日本政府、対露制裁の解除をこっそり開始！",
    13: "Japan has started lifting its sanctions on Russia!",
    15: "Токио начал снимать санкции против России",
}
# a loose paraphrase ("Tokyo ... begins lifting") scores near the threshold: either outcome
PARAPHRASE = {14: "BREAKING: Tokyo quietly begins lifting Russia sanctions https://t.co/abc"}
OTHER = {  # hard negatives: sanctions and Russia, but not the claim; and everyday posts
    21: "エネルギー価格高騰は制裁のせい。日本は独自の道を",
    22: "投票用紙に鉛筆で書くと書き換えられるって本当？",
    23: "今日のランチはラーメンでした🍜",
    24: "Summer in Japan is no joke",
    25: "Выборы в Японии: избиратели недовольны",
    26: "物価高で今月も赤字です",
}


def _store(path: Path) -> Store:
    tweets = [
        tweet(pid, pid, text, at=f"2025-07-14T{pid - 5:02d}:00:00.000Z", lang=script_language(text))
        for pid, text in {**STATING, **PARAPHRASE, **OTHER}.items()
    ]
    # two retweets of post 11 (spread of the original, not matched themselves)
    for rt, author in ((31, 90), (32, 91)):
        tweets.append(
            tweet(
                rt,
                author,
                "RT @u11: " + STATING[11],
                at="2025-07-14T12:00:00.000Z",
                referenced_tweets=[{"type": "retweeted", "id": "11"}],
            )
        )
    users = [user(u, f"u{u}") for u in (*STATING, *PARAPHRASE, *OTHER, 90, 91)]
    f = path.with_suffix(".jsonl")
    f.write_bytes(page(tweets, users))
    store = Store(path)
    ingest(store, [f])
    return store


def test_cross_lingual_matching(tmp_path: Path) -> None:
    claims = tmp_path / "fc.jsonld"
    claims.write_bytes(orjson.dumps([JFC]))
    with _store(tmp_path / "s.duckdb") as store:
        with pytest.raises(NotFoundError, match="no claims are loaded"):
            match_claims(store)
        load_claims(store, claims)
        result = match_claims(store)
        rows = list_claim_matches(store, limit=100)
        got = {int(r["post_id"]) for r in rows}
        assert set(STATING) <= got <= set(STATING) | set(PARAPHRASE), [
            (r["post_id"], r["score"]) for r in rows
        ]
        assert all(r["score"] >= DEFAULT_CROSS_LINGUAL_THRESHOLD for r in rows)
        assert all(r["verdict"] == "false" for r in rows)
        assert all(r["score"] >= DEFAULT_THRESHOLD for r in rows if r["lang"] == "ja")
        assert rows == sorted(rows, key=lambda r: -r["score"])
        assert {r["lang"] for r in rows} == {"ja", "en", "ru"}
        by_id = {int(r["post_id"]): r for r in rows}
        assert by_id[11]["reposts"] == 2 and by_id[11]["post_text"] == STATING[11]
        assert result.matches == len(got)
        assert result.texts_embedded == len(STATING) + len(PARAPHRASE) + len(OTHER)
        one = list_claim_matches(store, post_id="13")
        assert [r["post_id"] for r in one] == ["13"]
        (spread,) = claim_spread(store)
        extra = len(got) - len(STATING)
        assert (spread["posts"], spread["reposts"], spread["accounts"]) == (4 + extra, 2, 6 + extra)
        assert spread["by_language"] == {"ja": 2, "en": 1 + extra, "ru": 1}
        assert spread["first_at"].startswith("2025-07-14T06:00")
        assert spread["top_accounts"][0]["account_id"] == "11"
        # the appearance URL of the review is not in the store: the earliest match comes first
        first = spread["first_appearances"][0]
        assert (first["found_by"], first["post_id"]) == ("match", "11")
        # a stricter threshold keeps only the closest wordings
        strict = match_claims(store, threshold=0.8)
        assert strict.matches < result.matches


def test_match_parameters(store: Store) -> None:
    with pytest.raises(ConfigError, match="`threshold` of match_claims"):
        match_claims(store, threshold=0)
    with pytest.raises(ConfigError, match="`scope`"):
        match_claims(store, scope="everything")


def test_scenario_claim_matches_in_japanese(
    scenario_store: Store, scenario: tuple[Path, object]
) -> None:
    from fimiscope.narratives.evaluate import load_ground_truth, score_claim_matches

    _, files = scenario
    load_claims(scenario_store, files.factchecks)  # type: ignore[attr-defined]
    m = match_claims(scenario_store, scope="narratives")
    truth = load_ground_truth(files.ground_truth)  # type: ignore[attr-defined]
    s = score_claim_matches(scenario_store, m.run_id, truth)
    assert s["ja"]["matched"] >= 20 and s["ja"]["precision"] >= 0.9, s
