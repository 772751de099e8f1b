"""Determinism, size control, and the shapes of every output format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from fimiscope.simulate import ScenarioConfig, ScenarioConfigError, ScenarioFiles, generate_scenario
from fimiscope.simulate.ids import snowflake_ms

FIELDS = ("x_v2", "x_liking_users", "jetstream", "articles_rss", "factchecks", "ground_truth")


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate_scenario(tmp_path / "a", actions=4000, seed=3)
    b = generate_scenario(tmp_path / "b", actions=4000, seed=3)
    c = generate_scenario(tmp_path / "c", actions=4000, seed=4)
    for f in FIELDS:
        assert getattr(a, f).read_bytes() == getattr(b, f).read_bytes(), f
    assert a.x_v2.read_bytes() != c.x_v2.read_bytes()
    assert a.jetstream.read_bytes() != c.jetstream.read_bytes()


@pytest.mark.parametrize("actions", [3000, 30_000])
def test_size_is_controlled(tmp_path: Path, actions: int) -> None:
    files = generate_scenario(tmp_path, actions=actions, seed=11)
    assert abs(files.actions_written - actions) <= 0.05 * actions


def test_bad_parameters_raise(tmp_path: Path) -> None:
    with pytest.raises(ScenarioConfigError, match="bluesky_share"):
        generate_scenario(tmp_path, actions=5000, bluesky_share=1.5)
    with pytest.raises(ScenarioConfigError, match="bot_participation"):
        generate_scenario(
            tmp_path, actions=5000, config=ScenarioConfig(bot_participation=(0.9, 0.2))
        )


def test_x_pages_have_the_v2_shape(scenario: ScenarioFiles) -> None:
    pages = _lines(scenario.x_v2)
    assert pages
    rt = notes = errors = 0
    for page in pages:
        assert set(page) >= {"data", "includes", "meta", "__twarc"}
        assert 0 < len(page["data"]) <= 100 == 100 or len(page["data"]) <= 100
        assert page["meta"]["result_count"] == len(page["data"])
        assert page["__twarc"]["url"].startswith("https://api.twitter.com/2/tweets/search/all?")
        users = {u["id"] for u in page["includes"]["users"]}
        missing_users = {
            e["resource_id"] for e in page.get("errors", []) if e["resource_type"] == "user"
        }
        refs = {t["id"] for t in page["includes"].get("tweets", [])}
        missing = {
            e["resource_id"] for e in page.get("errors", []) if e["resource_type"] == "tweet"
        }
        errors += len(missing)
        for tw in page["data"]:
            for k in (
                "id",
                "text",
                "author_id",
                "created_at",
                "conversation_id",
                "lang",
                "public_metrics",
            ):
                assert k in tw
            assert tw["created_at"].endswith(".000Z")
            ms = snowflake_ms(int(tw["id"]))
            assert tw["created_at"][:19] == __import__("time").strftime(
                "%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(ms // 1000)
            )
            assert tw["author_id"] in users | missing_users
            for r in tw.get("referenced_tweets", []):
                assert r["id"] in refs | missing
                if r["type"] == "retweeted":
                    rt += 1
                    assert tw["text"].startswith("RT @")
            for h in tw.get("entities", {}).get("hashtags", []):
                assert tw["text"][h["start"] : h["end"]] in ("#" + h["tag"], "＃" + h["tag"])
            for u in tw.get("entities", {}).get("urls", []):
                assert tw["text"][u["start"] : u["end"]] == u["url"].strip()
                assert u["url"].startswith("https://t.co/")
            if "note_tweet" in tw:
                notes += 1
                assert tw["text"].endswith("…")
                assert len(tw["note_tweet"]["text"]) > len(tw["text"]) - 1
    assert rt > 100
    assert notes > 0
    assert errors > 0


def test_liking_users_pages(scenario: ScenarioFiles) -> None:
    pages = _lines(scenario.x_liking_users)
    tweet_ids = {tw["id"] for p in _lines(scenario.x_v2) for tw in p["data"]}
    assert pages
    for p in pages[:500]:
        url = p["__twarc"]["url"]
        liked = url.split("/tweets/")[1].split("/")[0]
        assert liked in tweet_ids
        assert p["meta"]["result_count"] == len(p["data"]) <= 100
        assert all({"id", "username", "created_at"} <= set(u) for u in p["data"])


def test_jetstream_shape_and_facets(scenario: ScenarioFiles) -> None:
    events = _lines(scenario.jetstream)
    times = [e["time_us"] for e in events]
    assert times == sorted(times)
    kinds = {e["kind"] for e in events}
    assert kinds == {"commit", "identity", "account"}
    facets = 0
    ops = set()
    for e in events:
        assert e["did"].startswith("did:plc:") and len(e["did"]) == 32
        if e["kind"] != "commit":
            continue
        c = e["commit"]
        ops.add((c["operation"], c["collection"]))
        assert len(c["rkey"]) == 13
        if c["operation"] == "delete":
            assert "record" not in c
            continue
        assert c["cid"].startswith("bafyrei")
        rec = c["record"]
        assert rec["$type"] == c["collection"]
        if c["collection"] == "app.bsky.feed.post":
            raw = rec["text"].encode()
            for f in rec.get("facets", []):
                facets += 1
                piece = raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
                feat = f["features"][0]
                if feat["$type"].endswith("#tag"):
                    assert piece[1:] == feat["tag"] and piece[0] in "#＃"
        elif c["collection"] in ("app.bsky.feed.like", "app.bsky.feed.repost"):
            assert rec["subject"]["uri"].startswith("at://did:plc:")
    assert facets > 10
    assert ("delete", "app.bsky.feed.post") in ops
    assert ("create", "app.bsky.graph.follow") in ops


def test_rss_and_claimreview(scenario: ScenarioFiles) -> None:
    root = ET.parse(scenario.articles_rss).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("./channel/item")
    assert len(items) > 10
    assert any("санкции" in (i.findtext("title") or "") for i in items)
    for i in items:
        for tag in ("title", "link", "description", "pubDate", "guid"):
            assert i.findtext(tag)
    reviews = json.loads(scenario.factchecks.read_text(encoding="utf-8"))
    assert all(
        r["@type"] == "ClaimReview" and r["@context"] == "https://schema.org" for r in reviews
    )
    names = {r["reviewRating"]["alternateName"] for r in reviews}
    assert "誤り" in names and len(names) >= 3
    assert any("対露制裁" in r["claimReviewed"] for r in reviews)


def test_module_entry_point_prints_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fimiscope.simulate.__main__ import main

    assert main(["--out", str(tmp_path), "--actions", "3000", "--seed", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert Path(doc["x_v2"]).exists() and Path(doc["ground_truth"]).exists()
    assert 2850 <= doc["actions_written"] <= 3150
