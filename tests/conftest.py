"""Shared fixtures: a fresh store file per test, and builders of real-shaped X v2 pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fimiscope.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


def tweet(
    tid: int, author: int, text: str, at: str = "2025-07-10T03:04:05.000Z", **extra: Any
) -> dict[str, Any]:
    """A v2 tweet object with the fields X returns for the usual `tweet.fields`."""
    return {
        "id": str(tid),
        "text": text,
        "author_id": str(author),
        "created_at": at,
        "conversation_id": str(tid),
        "lang": "ja",
        "edit_history_tweet_ids": [str(tid)],
        **extra,
    }


def user(uid: int, username: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": username,
        "name": username,
        "created_at": "2020-01-01T00:00:00.000Z",
        **extra,
    }


def page(
    tweets: list[dict[str, Any]], users: list[dict[str, Any]] | None = None, **extra: Any
) -> bytes:
    """One line of a twarc2-style search results file."""
    body: dict[str, Any] = {
        "data": tweets,
        "includes": {"users": users or []},
        "meta": {"result_count": len(tweets)},
        **extra,
    }
    return orjson.dumps(body) + b"\n"
