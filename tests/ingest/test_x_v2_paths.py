"""The X API v2 fast path (DuckDB's JSON reader) gives the very store the Python parser gives.

One clean multi-page file with every feature is ingested twice, once through the fast path and
once with the fast path switched off, and every canonical table is compared whole. A file with
a dirty chunk among clean ones gives the same rows and the exact rejects.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from fimiscope._sql import quote_ident
from fimiscope.ingest import ingest, staging
from fimiscope.ingest.formats import x_v2_arrow, x_v2_sql
from fimiscope.store import Store

TABLES = {
    "posts": (),
    "accounts": (),
    "engagements": (),
    "post_refs": (),
    "post_urls": (),
    "post_hashtags": (),
    "post_mentions": (),
    "post_media": (),
    "rejects": ("rejected_at", "path"),
    "sources": ("ingested_at", "path", "run_id"),
}


def _t(tid: str, author: str | None, text: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": tid,
        "text": text,
        "created_at": "2025-07-10T03:04:05.000Z",
        "conversation_id": tid,
        "lang": "ja",
        "source": "Twitter for iPhone",
        "edit_history_tweet_ids": [tid],
        "public_metrics": {
            "retweet_count": 1,
            "reply_count": 2,
            "like_count": 3,
            "quote_count": 4,
            "bookmark_count": 0,
            "impression_count": 50,
        },
    }
    if author is not None:
        out["author_id"] = author
    out.update(extra)
    return out


def _u(uid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "name": name.title(),
        "created_at": "2015-01-01T00:00:00.000Z",
        "description": f"about {name}",
        "location": "Tokyo",
        "verified": False,
        "protected": False,
        "profile_image_url": f"https://pbs.twimg.com/{name}.jpg",
        "public_metrics": {
            "followers_count": 10,
            "following_count": 20,
            "tweet_count": 30,
            "listed_count": 0,
        },
        **extra,
    }


def _page(
    data: list[Any],
    users: list[Any] = (),
    tweets: list[Any] = (),  # type: ignore[assignment]
    media: list[Any] = (),
    url: str | None = None,
) -> dict[str, Any]:  # type: ignore[assignment]
    page: dict[str, Any] = {"data": data, "meta": {"result_count": len(data)}}
    includes: dict[str, Any] = {}
    if users:
        includes["users"] = list(users)
    if tweets:
        includes["tweets"] = list(tweets)
    if media:
        includes["media"] = list(media)
    if includes:
        page["includes"] = includes
    if url:
        page["__twarc"] = {"url": url, "version": "2.14.0"}
    return page


def clean_pages() -> list[dict[str, Any]]:
    ents = {
        "urls": [
            {
                "start": 0,
                "end": 23,
                "url": "https://t.co/a1",
                "expanded_url": "https://www.asahi.com/articles/1?utm_source=tw",
                "unwound_url": "https://www.asahi.com/articles/1",
            },
            {
                "start": 24,
                "end": 47,
                "url": "https://t.co/a2",
                "expanded_url": "https://Example.com/x/?b=2&a=1",
            },
            {"url": "https://t.co/a3", "expanded_url": "", "unwound_url": ""},
        ],
        "hashtags": [{"start": 0, "end": 4, "tag": "参院選"}, {"tag": "Ｊａｐａｎ"}, {"tag": ""}],
        "mentions": [{"username": "Bob", "id": "2"}, {"username": "ghost"}],
    }
    search = _page(
        data=[
            _t(
                "10",
                "1",
                "ＦＩＭＩ　は\u200b 危険！ https://t.co/a1",
                entities=ents,
                attachments={"media_keys": ["m1", "m2", "m9"]},
                withheld={"copyright": False, "country_codes": ["DE", "FR"]},
            ),
            # retweet whose original is included, and one whose original is not
            _t(
                "11",
                "2",
                "RT @alice: ＦＩＭＩ…",
                referenced_tweets=[{"type": "retweeted", "id": "100"}],
            ),
            _t("12", "3", "RT @zed: gone…", referenced_tweets=[{"type": "retweeted", "id": "999"}]),
            # replies: to an included tweet (no in_reply_to), to a missing one
            _t(
                "13",
                "1",
                "@bob yes",
                referenced_tweets=[{"type": "replied_to", "id": "100"}],
                entities={"mentions": [{"start": 0, "end": 4, "username": "bob", "id": "2"}]},
            ),
            _t(
                "14",
                "2",
                "@who no",
                in_reply_to_user_id="77",
                referenced_tweets=[{"type": "replied_to", "id": "998"}],
            ),
            # quote of an included tweet; reply that also quotes a missing tweet
            _t("15", "3", "look", referenced_tweets=[{"type": "quoted", "id": "101"}]),
            _t(
                "16",
                "1",
                "both",
                in_reply_to_user_id="2",
                referenced_tweets=[
                    {"type": "replied_to", "id": "100"},
                    {"type": "quoted", "id": "997"},
                ],
            ),
            # note tweet (long text, its own entities), by an author not in includes
            _t(
                "17",
                "55",
                "short…",
                note_tweet={
                    "text": "the whole long text #Long",
                    "entities": {"hashtags": [{"start": 20, "end": 25, "tag": "Long"}]},
                },
                entities={"hashtags": [{"tag": "short"}]},
            ),
            # a retweet cut short but with a note: not truncated
            _t(
                "18",
                "2",
                "RT @alice: note…",
                note_tweet={"text": "RT @alice: note full"},
                referenced_tweets=[{"type": "retweeted", "id": "101"}],
            ),
            _t("19", None, "no author", created_at="2025-07-10T12:00:00+09:00"),
        ],
        users=[
            _u("1", "alice", profile_image_url="https://x/default_profile_normal.png"),
            _u("2", "bob", location=""),
            _u("3", "carol", verified=True),
        ],
        tweets=[
            _t("100", "1", "original by alice", entities={"hashtags": [{"tag": "orig"}]}),
            _t("101", "4", "quoted by dave"),
        ],
        media=[
            {"media_key": "m1", "type": "photo", "url": "https://pbs.twimg.com/m1.jpg"},
            {
                "media_key": "m2",
                "type": "video",
                "preview_image_url": "https://pbs.twimg.com/m2.jpg",
            },
        ],
    )
    liking = _page(
        data=[_u("6", "frank"), _u("7", "grace")],
        url="https://api.twitter.com/2/tweets/10/liking_users?max_results=100",
    )
    retweeted = _page(
        data=[_u("2", "bob"), _u("8", "heidi")],
        url="https://api.twitter.com/2/tweets/10/retweeted_by",
    )
    following = _page(data=[_u("9", "ivan")], url="https://api.twitter.com/2/users/1/following")
    followers = _page(data=[_u("5", "erin")], url="https://api.twitter.com/2/users/1/followers")
    liked = _page(
        data=[_t("30", "9", "liked one")],
        users=[_u("9", "ivan")],
        url="https://api.twitter.com/2/users/6/liked_tweets",
    )
    # a later page repeats a post (first copy wins), upgrades the stub 999 and changes a profile
    later = _page(
        data=[
            _t("10", "1", "changed text"),
            _t("999", "3", "was a stub"),
            _t("20", "6", "by frank"),
        ],
        users=[_u("1", "alice2", description=None), _u("6", "frank")],
    )
    empty = _page(data=[], url="https://api.twitter.com/2/tweets/10/quote_tweets")
    return [search, liking, retweeted, following, followers, liked, later, empty]


def write(path: Path, lines: list[bytes]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.writelines(lines)
    return path


def lines_of(pages: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(p) + b"\n" for p in pages]


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, skip in TABLES.items():
        cols = [
            r[0]
            for r in store.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_schema = 'main' ORDER BY ordinal_position",
                [table],
            ).fetchall()
            if r[0] not in skip
        ]
        rows = store.con.execute(
            f"SELECT {', '.join(quote_ident(c) for c in cols)} FROM {table}"
        ).fetchall()
        out[table] = sorted(rows, key=repr)
    return out


def ingest_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Path, chunk_bytes: int | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Ingest ``data`` four ways: every path on (Arrow with the C reader, else DuckDB, else
    Python), Arrow with Arrow's own JSON reader, DuckDB and Python only, Python only. Return
    the stores and, for the first way, how many blocks each fast path took."""
    if chunk_bytes:
        monkeypatch.setattr(x_v2_sql, "CHUNK_BYTES", chunk_bytes)
    taken = {"arrow": 0, "duckdb": 0}

    def spy(name: str, real: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            taken[name] += out is not None
            return out

        return run

    real_arrow, real_sql = x_v2_arrow.stage_block, x_v2_sql.stage_chunk
    monkeypatch.setattr(x_v2_arrow, "stage_block", spy("arrow", real_arrow))
    monkeypatch.setattr(x_v2_sql, "stage_chunk", spy("duckdb", real_sql))
    stores = {}
    with Store(tmp_path / "all.duckdb") as st:
        ingest(st, [data], format="x-v2")
        stores["all"] = snapshot(st)
    counts = dict(taken)
    monkeypatch.setattr(x_v2_arrow, "_cjson", None)
    with Store(tmp_path / "arrow_reader.duckdb") as st:
        ingest(st, [data], format="x-v2")
        stores["arrow_reader"] = snapshot(st)
    monkeypatch.setattr(x_v2_arrow, "stage_block", lambda *a, **k: None)
    with Store(tmp_path / "duckdb.duckdb") as st:
        ingest(st, [data], format="x-v2")
        stores["duckdb"] = snapshot(st)
    monkeypatch.setattr(x_v2_sql, "stage_chunk", lambda *a, **k: None)
    with Store(tmp_path / "python.duckdb") as st:
        ingest(st, [data], format="x-v2")
        stores["python"] = snapshot(st)
    return stores, counts


def same_stores(stores: dict[str, dict[str, Any]]) -> None:
    for name, snap in stores.items():
        for table in TABLES:
            assert snap[table] == stores["python"][table], (name, table)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_fast_paths_give_the_python_parsers_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    data = write(tmp_path / f"pages{suffix}", lines_of(clean_pages()))
    stores, taken = ingest_paths(tmp_path, monkeypatch, data)
    # one page has a time with an offset (+09:00): the Arrow path leaves it to DuckDB
    assert taken == {"arrow": 0, "duckdb": 1}
    fast = stores["all"]
    assert fast["posts"], "the file must give posts"
    same_stores(stores)
    # the features are really there
    assert len(fast["engagements"]) == 7
    assert {r[2] for r in fast["post_refs"]} == {"repost", "reply", "quote"}
    assert len(fast["post_media"]) == 3
    assert fast["rejects"] == []


def test_arrow_path_gives_the_python_parsers_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same pages with X's own time format everywhere: the Arrow path takes them."""
    pages = clean_pages()
    for tweet in pages[0]["data"]:
        tweet["created_at"] = "2025-07-10T03:04:05.000Z"
    data = write(tmp_path / "pages.jsonl", lines_of(pages))
    stores, taken = ingest_paths(tmp_path, monkeypatch, data)
    assert taken == {"arrow": 1, "duckdb": 0}
    same_stores(stores)
    fast = stores["all"]
    assert len(fast["engagements"]) == 7 and len(fast["post_media"]) == 3
    assert {r[2] for r in fast["post_refs"]} == {"repost", "reply", "quote"}


def test_dirty_chunk_among_clean_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = clean_pages()
    lines = lines_of(pages[:3])
    dirty = [
        b'{"data": [{"id": "40", "text": "cut',  # not JSON
        b'{"title": "Not Found", "errors": [{"detail": "gone"}]}',  # no data
        orjson.dumps(
            _page(
                [
                    _t("41", "1", "bad time", created_at="2025-13-45T99:00:00Z"),
                    _t("42", "1", "fine"),
                ]
            )
        ),
        orjson.dumps(
            _page([_t("43", "1", "odd ref", referenced_tweets=[{"type": "mystery", "id": "1"}])])
        ),
        b"",
    ]
    lines += [line + b"\n" for line in dirty]
    lines += lines_of(pages[3:])
    data = write(tmp_path / "mixed.jsonl", lines)
    sizes = [len(line) for line in lines]
    # small chunks (a line each): the dirty lines fall in chunks of their own
    stores, taken = ingest_paths(tmp_path, monkeypatch, data, chunk_bytes=64)
    # the first page's +09:00 time goes to DuckDB; the dirty lines to Python
    assert taken == {"arrow": len(pages) - 1, "duckdb": 1}
    same_stores(stores)
    fast = stores["all"]
    rejects = [(r[2], r[3], r[5]) for r in fast["rejects"]]  # line, byte offset, reason
    first_dirty = 4
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    assert sorted(rejects) == sorted(
        [
            (first_dirty, offsets[3], rejects[0][2] if rejects[0][0] == first_dirty else ""),
            (first_dirty + 1, offsets[4], "a response without 'data': [{'detail': 'gone'}]"),
            (first_dirty + 2, offsets[5], "bad created_at '2025-13-45T99:00:00Z'"),
            (first_dirty + 3, offsets[6], "unknown referenced_tweets type 'mystery'"),
        ]
    )
    assert any(r[2].startswith("invalid JSON") for r in rejects)
    post_ids = {r[1] for r in fast["posts"]}
    assert "42" in post_ids and "41" not in post_ids and "43" not in post_ids


def test_staging_a_large_batch_keeps_every_row(tmp_path: Path) -> None:
    """Staged rows live in Parquet files beside the store (DuckDB 2.0 dropped the rows of a
    parallel insert of a full row group into a table created in the same transaction, which
    the former staging tables had to work around); every row of a large batch, read back
    in parallel in the merge's transaction, is there once, and the folder goes at the end."""
    n = 300_000
    batch = pa.table(
        {
            "platform": ["x"] * n,
            "post_id": [str(i) for i in range(n)],
            "ref_type": ["repost"] * n,
            "ref_post_id": [str(i + 1) for i in range(n)],
            "ref_account_id": [None] * n,
            "_seq": pa.array(range(n), pa.int64()),
        }
    )
    batch = pa.Table.from_batches(batch.to_batches(max_chunksize=2048 * 60))
    with Store(tmp_path / "s.duckdb") as st:
        with staging.StageFiles(st.path) as stage, st.transaction():
            stage.append("post_refs", batch)
            refs = staging.source("post_refs")
            sql = f"SELECT count(post_id), count(DISTINCT post_id) FROM {refs}"
            assert st.con.execute(sql, stage.params(sql)).fetchall() == [(n, n)]
            assert stage.dir.parent == tmp_path
        assert not stage.dir.exists()


def test_posts_merged_in_slices_give_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge reads the staged posts a slice of files at a time; a post repeated in
    another slice (a later copy, a stub upgraded by a full copy) is still resolved as one."""
    from fimiscope.ingest import merge

    pages = clean_pages()
    pages[0]["data"][-1]["created_at"] = "2025-07-10T03:04:05.000Z"
    data = write(tmp_path / "pages.jsonl", lines_of(pages + pages[::-1]))
    monkeypatch.setattr(x_v2_sql, "CHUNK_BYTES", 64)  # a block (and a posts file) per page
    with Store(tmp_path / "whole.duckdb") as st:
        ingest(st, [data], format="x-v2")
        whole = snapshot(st)
    monkeypatch.setattr(merge, "POSTS_PER_SLICE", 1)
    with Store(tmp_path / "sliced.duckdb") as st:
        ingest(st, [data], format="x-v2")
        sliced = snapshot(st)
    assert sliced == whole
    ids = [r[1] for r in whole["posts"]]
    assert len(ids) == len(set(ids)) and "999" in ids
    stub_999 = [r for r in whole["posts"] if r[1] == "999"]
    assert stub_999[0][9] == "was a stub"  # the full copy replaced the stub
