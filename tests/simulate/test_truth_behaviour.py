"""Ground truth consistency and the behaviour that detectors are meant to tell apart."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime

import orjson
import pytest

from fimiscope.simulate import ScenarioFiles


@pytest.fixture(scope="module")
def data(scenario: ScenarioFiles) -> dict:
    tweets, users = {}, set()
    for line in scenario.x_v2.read_bytes().splitlines():
        page = orjson.loads(line)
        for tw in page["data"]:
            tweets[tw["id"]] = tw
            users.add(tw["author_id"])
    likers = set()
    for line in scenario.x_liking_users.read_bytes().splitlines():
        likers.update(u["id"] for u in orjson.loads(line)["data"])
    bsky_posts, bsky_dids, events = set(), set(), []
    for line in scenario.jetstream.read_bytes().splitlines():
        e = orjson.loads(line)
        events.append(e)
        bsky_dids.add(e["did"])
        if e["kind"] == "commit" and e["commit"]["operation"] == "create":
            c = e["commit"]
            bsky_posts.add(f"at://{e['did']}/{c['collection']}/{c['rkey']}")
    truth = json.loads(scenario.ground_truth.read_text(encoding="utf-8"))
    return {
        "tweets": tweets,
        "users": users | likers,
        "bsky_posts": bsky_posts,
        "bsky_dids": bsky_dids,
        "events": events,
        "truth": truth,
    }


def _hour(ts: str, offset: int) -> int:
    return (int(ts[11:13]) + offset) % 24


def test_every_truth_account_and_post_exists(data: dict) -> None:
    truth = data["truth"]
    groups = truth["operations"] + truth["benign"]
    assert {g["kind"] for g in truth["operations"]} == {
        "bot_network",
        "state_media_amplification",
        "false_narrative",
    }
    assert {g["kind"] for g in truth["benign"]} == {
        "fan_community",
        "news_bots",
        "breaking_news",
        "hashtag_campaign",
    }
    for g in groups:
        assert g["accounts"] and g["posts"], g["id"]
        for a in g["accounts"]:
            pool = data["users"] if a["platform"] == "x" else data["bsky_dids"]
            assert a["account_id"] in pool, (g["id"], a)
        for p in g["posts"]:
            pool = data["tweets"] if p["platform"] == "x" else data["bsky_posts"]
            assert p["post_id"] in pool, (g["id"], p)
    refs = {r["id"] for tw in data["tweets"].values() for r in tw.get("referenced_tweets", [])}
    for op in truth["operations"]:
        for p in op["amplified_posts"]:
            if p["platform"] == "x":
                assert p["post_id"] in refs


def test_narratives_label_every_original_post(data: dict) -> None:
    labelled = {pid for n in data["truth"]["narratives"].values() for pid in n["posts"]["x"]}
    originals = {
        i
        for i, tw in data["tweets"].items()
        if not any(r["type"] == "retweeted" for r in tw.get("referenced_tweets", []))
    }
    assert originals == labelled
    assert "organic_misc" in data["truth"]["narratives"]
    claim = data["truth"]["claims"][0]
    assert claim["posts"]
    assert claim["factcheck_published"] > claim["started_at"][:10]


def _bot_and_fan_spreads(data: dict) -> tuple[list[float], list[float]]:
    truth = data["truth"]
    bots = {a["account_id"] for a in truth["operations"][0]["accounts"] if a["platform"] == "x"}
    fans = {
        a["account_id"]
        for g in truth["benign"]
        if g["kind"] == "fan_community"
        for a in g["accounts"]
        if a["platform"] == "x"
    }
    by_target: dict[tuple[str, str], list[int]] = defaultdict(list)
    from fimiscope.simulate.ids import snowflake_ms

    for tw in data["tweets"].values():
        for r in tw.get("referenced_tweets", []):
            if r["type"] != "retweeted":
                continue
            who = "bot" if tw["author_id"] in bots else "fan" if tw["author_id"] in fans else None
            if who:
                by_target[(who, r["id"])].append(snowflake_ms(int(tw["id"])))
    spread = {"bot": [], "fan": []}
    for (who, _), ts in by_target.items():
        if len(ts) >= 5:
            spread[who].append((max(ts) - min(ts)) / 1000)
    return spread["bot"], spread["fan"]


def test_bots_pile_on_within_a_minute_fans_over_many_minutes(data: dict) -> None:
    bot, fan = _bot_and_fan_spreads(data)
    assert len(bot) >= 3 and len(fan) >= 3
    assert statistics.median(bot) <= 70
    assert statistics.median(fan) > 600


def test_bots_work_moscow_hours_and_organic_users_jst_evenings(data: dict) -> None:
    truth = data["truth"]
    bots = {a["account_id"] for a in truth["operations"][0]["accounts"] if a["platform"] == "x"}
    bot_h, org_h = [], []
    for tw in data["tweets"].values():
        (bot_h if tw["author_id"] in bots else org_h).append(tw["created_at"])
    msk = [_hour(t, 3) for t in bot_h]
    assert sum(9 <= h < 18 for h in msk) / len(msk) > 0.8
    jst = [_hour(t, 9) for t in org_h]
    evening = sum(20 <= h < 24 for h in jst) / len(jst)
    night = sum(2 <= h < 6 for h in jst) / len(jst)
    assert evening > 0.2 and night < 0.06


def test_bot_accounts_created_in_bursts(scenario: ScenarioFiles, data: dict) -> None:
    truth = data["truth"]
    bots = {a["account_id"] for a in truth["operations"][0]["accounts"] if a["platform"] == "x"}
    created = set()
    for line in scenario.x_v2.read_bytes().splitlines():
        for u in orjson.loads(line)["includes"]["users"]:
            if u["id"] in bots:
                created.add((u["id"], u["created_at"][:10]))
                assert u["public_metrics"]["followers_count"] < 30
    days = {d for _, d in created}
    assert len(created) >= 10 and len(days) <= 9
    assert all(d.startswith(("2025-03", "2025-04", "2025-05")) for d in days)


def test_organic_texts_vary(data: dict) -> None:
    truth = data["truth"]
    special = {p["post_id"] for g in truth["operations"] + truth["benign"] for p in g["posts"]}
    texts = [
        tw["text"]
        for i, tw in data["tweets"].items()
        if i not in special and not tw["text"].startswith("RT @")
    ]
    assert len(set(texts)) / len(texts) > 0.9


def test_false_claim_grows_after_start(data: dict) -> None:
    claim = data["truth"]["claims"][0]
    ids = [p["post_id"] for p in claim["posts"] if p["platform"] == "x"]
    times = sorted(data["tweets"][i]["created_at"] for i in ids)
    assert times[0] >= claim["started_at"][:19]
    start = datetime.fromisoformat(claim["started_at"].replace("Z", "+00:00"))
    per_3h: dict[int, int] = defaultdict(int)
    for t in times:
        per_3h[
            int((datetime.fromisoformat(t.replace("Z", "+00:00")) - start).total_seconds() // 10800)
        ] += 1
    # few posts an hour at first, then a spike at least five times larger
    assert per_3h[0] * 5 < max(per_3h.values())
