"""Trends: bursts against each series' own baseline, flagged early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fimiscope.errors import ConfigError
from fimiscope.ingest import ingest
from fimiscope.narratives import detect_trends, list_trends, run_narratives
from fimiscope.narratives.trends import burst_flags
from fimiscope.store import Store
from tests.conftest import page, tweet, user

T0 = datetime(2025, 7, 11, 0, 0, tzinfo=UTC)
START = T0 + timedelta(days=3, hours=10)  # the new story starts on day 4 at 10:00 UTC


def _flags(counts: list[int], **kw: object) -> list[tuple[int, int, float, float, int, int]]:
    args = dict(
        window_bins=1,
        baseline_bins=24,
        day_bins=10_000,
        min_count=5,
        ratio=3.0,
        alpha=0.01,
        floor=1.0,
        min_history_bins=6,
    )
    args.update(kw)
    return burst_flags(np.array([counts]), **args)[0]  # type: ignore[arg-type]


def test_burst_flags_worked_example() -> None:
    # bins 0-29 steady at 2; bin 30 has 12 (6x its trailing mean of 2); bins 31-32 stay high
    c = [2] * 30 + [12, 14, 13] + [2] * 10
    ((first, count, expected, p, last, peak),) = _flags(c)
    assert (first, count, expected, last, peak) == (30, 12, 2.0, 32, 14)
    assert 0 < p < 0.01 / (len(c) - 6)
    # the same counts in a series that always runs at 10 are no burst
    assert _flags([10] * 30 + [12, 14, 13] + [10] * 10) == []
    # nothing is tested before min_history bins of the span
    assert _flags([0, 30, 0, 0, 0, 0, 0, 0]) == []
    # a daily rhythm is not a burst: the same window yesterday predicts today's peak
    day = [1] * 20 + [12] + [1] * 3
    assert _flags(day * 3, day_bins=24, baseline_bins=24)[0][0] == 20  # first day: new
    assert all(f[0] < 24 for f in _flags(day * 3, day_bins=24, baseline_bins=24))


def _tagged(tid: int, author: int, text: str, tag: str, at: datetime) -> dict[str, object]:
    body = f"{text} #{tag}"
    start = len(text) + 1
    return tweet(
        tid,
        author,
        body,
        at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        entities={"hashtags": [{"start": start, "end": start + len(tag) + 1, "tag": tag}]},
    )


def _story_store(path: Path) -> Store:
    """Three quiet days of weather chat (#日常, ~3/h), then a story that rises from 10:00."""
    rng = np.random.default_rng(0)
    tweets = []
    tid = 1
    background = [
        "今日は暑いですね",
        "夕立がすごい",
        "猛暑日が続く",
        "朝から雨",
        "洗濯物が乾かない",
    ]
    for h in range(4 * 24):
        for _ in range(rng.poisson(3)):
            at = T0 + timedelta(hours=h, seconds=int(rng.integers(0, 3600)))
            tweets.append(_tagged(tid, 1 + tid % 40, background[tid % 5], "日常", at))
            tid += 1
    story = [
        "日本が対露制裁の解除を開始したらしい",
        "日本が対露制裁の解除を開始したって",
        "【拡散】日本が対露制裁の解除を開始した模様",
    ]
    for h, n in enumerate([1, 3, 8, 16, 30, 40, 30, 20]):  # per hour from START
        for k in range(n):
            at = START + timedelta(hours=h, seconds=int(rng.integers(0, 3600)))
            tweets.append(
                _tagged(tid, 100 + tid % 60, story[k % 3] + "！" * (k % 4), "制裁解除", at)
            )
            tid += 1
    users = [user(u, f"user{u}") for u in range(1, 200)]
    f = path.with_suffix(".jsonl")
    f.write_bytes(b"".join(page(tweets[k : k + 100], users) for k in range(0, len(tweets), 100)))
    store = Store(path)
    ingest(store, [f])
    return store


def test_new_story_flagged_within_hours(tmp_path: Path) -> None:
    with _story_store(tmp_path / "s.duckdb") as store:
        run_narratives(store, cross_lingual=False, seed=0)
        result = detect_trends(store)
        assert list_trends(store)[0]["run_id"] == result.run_id
        story = [f for f in result.flags if f["kind"] == "hashtag" and f["key"] == "制裁解除"]
        assert len(story) == 1
        delay = (story[0]["flagged_at"] - START).total_seconds() / 3600
        # 1, 3, 8, 16 posts in hours 0-3: a window reaches 10 posts during hour 3
        assert 2.0 <= delay <= 4.0, story[0]
        # the story's narrative is flagged as early, the steady chat never
        narratives = [f for f in result.flags if f["kind"] == "narrative"]
        assert narratives and all(f["flagged_at"] >= START for f in narratives)
        assert min(f["flagged_at"] for f in narratives) <= START + timedelta(hours=4)
        assert not [f for f in result.flags if f["key"] == "日常"]
        assert all(f["label"] for f in result.flags)


def test_trend_parameters_are_checked(store: Store) -> None:
    with pytest.raises(ConfigError, match="`window` of detect_trends"):
        detect_trends(store, window=60, step=600)
