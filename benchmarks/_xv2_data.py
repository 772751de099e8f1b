"""Fast writer of realistic X API v2 search pages for ingest benchmarks (not the scenario)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

_WORDS = [
    "物価高",
    "減税",
    "年金",
    "消費税",
    "少子化",
    "外国人政策",
    "参院選",
    "選挙",
    "政府",
    "与党",
    "野党",
    "候補者",
    "投票",
    "経済",
    "円安",
    "賃上げ",
    "防衛",
    "外交",
]
_TAGS = ["参院選", "選挙に行こう", "参議院選挙2025", "物価高"]
_SITES = [
    "https://www3.nhk.or.jp/news/html/2025",
    "https://www.asahi.com/articles",
    "https://www.yomiuri.co.jp/politics",
    "https://www.nikkei.com/article",
]


def write_pages(path: Path, n_posts: int, *, seed: int = 1, n_users: int | None = None) -> int:
    """Write ``n_posts`` tweets as 100-tweet pages with includes; ~40 % are retweets."""
    rng = np.random.default_rng(seed)
    n_users = n_users or max(100, n_posts // 20)
    t0 = datetime(2025, 7, 3, tzinfo=UTC)
    opener = gzip.open if path.suffix == ".gz" else open
    written = 0
    with opener(path, "wb") as f:
        page: list[dict] = []
        users: dict[str, dict] = {}
        for i in range(n_posts):
            uid = str(1000 + int(rng.zipf(1.6)) % n_users)
            tid = str(1945000000000000000 + i)
            at = t0 + timedelta(seconds=int(i * 1_209_600 / n_posts))
            words = rng.choice(len(_WORDS), 4)
            tag = _TAGS[i % len(_TAGS)]
            text = "".join(_WORDS[w] for w in words) + f" #{tag} https://t.co/x{i % 9973}"
            tweet = {
                "id": tid,
                "text": text,
                "author_id": uid,
                "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "conversation_id": tid,
                "lang": "ja",
                "source": "Twitter for iPhone",
                "edit_history_tweet_ids": [tid],
                "public_metrics": {
                    "retweet_count": int(i % 7),
                    "reply_count": 0,
                    "like_count": int(i % 13),
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": int(i % 1000),
                },
                "entities": {
                    "hashtags": [{"start": 0, "end": 4, "tag": tag}],
                    "urls": [
                        {
                            "start": 0,
                            "end": 23,
                            "url": f"https://t.co/x{i % 9973}",
                            "expanded_url": f"{_SITES[i % 4]}/{i % 9973}.html?utm_source=tw",
                        }
                    ],
                },
            }
            if i > 10 and rng.random() < 0.4:
                ref = str(1945000000000000000 + int(rng.integers(0, i)))
                tweet["referenced_tweets"] = [{"type": "retweeted", "id": ref}]
                tweet["text"] = "RT @someone: " + text
            page.append(tweet)
            users[uid] = {
                "id": uid,
                "username": f"user{uid}",
                "name": f"ユーザー{uid}",
                "created_at": "2015-01-01T00:00:00.000Z",
                "verified": False,
                "public_metrics": {
                    "followers_count": 10,
                    "following_count": 20,
                    "tweet_count": 100,
                    "listed_count": 0,
                },
            }
            if len(page) == 100:
                f.write(
                    orjson.dumps(
                        {
                            "data": page,
                            "includes": {"users": list(users.values())},
                            "meta": {"result_count": len(page)},
                        }
                    )
                    + b"\n"
                )
                written += len(page)
                page, users = [], {}
        if page:
            f.write(
                orjson.dumps(
                    {
                        "data": page,
                        "includes": {"users": list(users.values())},
                        "meta": {"result_count": len(page)},
                    }
                )
                + b"\n"
            )
            written += len(page)
    return written
