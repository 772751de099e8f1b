"""generic: CSV or Parquet through a YAML column mapping (tests/fixtures/generic/).

posts.csv (UTF-8 with BOM, CRLF; times in Japan time, mapping posts.yaml), by line:
 [1]    header
 [2]    p1 post by u1 12:04:05 JST = 03:04:05Z, tags "参院選,物価", a link with utm_source
 [3]    p2 RT of p1 by u2 12:04:09 JST, mentions alice
 [4-5]  p3 RE to p1 by u3 13:00 JST, text with CRLF, quotes, formula and a zero-width space
 [6]    p4 'not a time'                                  -> reject
 [7]    p5 kind 'ZZ' not in kind_values                  -> reject
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fimiscope.errors import ConfigError, FormatMismatchError
from fimiscope.ingest import Sink, ingest, registry
from fimiscope.ingest.formats.generic import GenericTable
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIX = Path(__file__).parents[2] / "fixtures"
POSTS = FIX / "generic" / "posts.csv"
MAPPING = FIX / "generic" / "posts.yaml"
OPTS = {"mapping": str(MAPPING)}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def test_csv_posts(store: Store) -> None:
    [info] = ingest(store, POSTS, options=OPTS)
    assert (info.format, info.records, info.posts, info.rejected, info.accounts) == (
        "generic",
        5,
        3,
        2,
        3,
    )
    assert store.sql("""SELECT platform, post_id, account_id, created_at, kind, ref_post_id, text
                          FROM posts ORDER BY post_id""") == [
        ("forum", "p1", "u1", at(2025, 7, 10, 3, 4, 5), "post", None, "物価高は政府のせいだ"),
        ("forum", "p2", "u2", at(2025, 7, 10, 3, 4, 9), "repost", "p1", "RT 物価高は政府のせいだ"),
        (
            "forum",
            "p3",
            "u3",
            at(2025, 7, 10, 4),
            "reply",
            "p1",
            'multi\r\nline "quoted" =1+1\u200b',
        ),
    ]
    assert store.sql("SELECT post_id, ref_type, ref_post_id FROM post_refs ORDER BY ALL") == [
        ("p2", "repost", "p1"),
        ("p3", "reply", "p1"),
    ]
    assert store.sql("SELECT post_id, position, tag FROM post_hashtags ORDER BY ALL") == [
        ("p1", 0, "参院選"),
        ("p1", 1, "物価"),
        ("p3", 0, "参院選"),
    ]
    assert store.sql("SELECT post_id, url_norm FROM post_urls") == [
        ("p1", "https://www.asahi.com/a")
    ]
    assert store.sql("SELECT post_id, position, handle FROM post_mentions ORDER BY ALL") == [
        ("p2", 0, "alice"),
        ("p3", 0, "alice"),
        ("p3", 1, "bob"),
    ]
    assert store.sql(
        "SELECT account_id, handle, handle_norm, first_seen_at FROM accounts ORDER BY ALL"
    ) == [
        ("u1", "Alice", "alice", at(2025, 7, 10, 3, 4, 5)),
        ("u2", "bob", "bob", at(2025, 7, 10, 3, 4, 9)),
        ("u3", "carol", "carol", at(2025, 7, 10, 4)),
    ]


def test_csv_rejects(store: Store) -> None:
    ingest(store, POSTS, options=OPTS)
    rows = store.sql("SELECT line, location, reason, excerpt FROM rejects ORDER BY line")
    assert [r[:2] for r in rows] == [(6, "timestamp"), (7, "type")]
    assert rows[0][2].startswith("bad created_at 'not a time'")
    assert rows[1][2].startswith("unknown kind 'ZZ'")
    assert rows[0][3] == "p4,u2,bob,not a time,x,OR,,,,\r\n"


def test_parquet_with_dict_mapping(tmp_path: Path, store: Store) -> None:
    # Typed columns: a naive timestamp (taken in the mapping's zone), an aware one, epoch
    # seconds as int, a list column, int ids.
    path = tmp_path / "posts.parquet"
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "user": ["a", "b", "a"],
            "ts": pa.array(
                [datetime(2025, 7, 10, 9), datetime(2025, 7, 10, 10), None], pa.timestamp("s")
            ),
            "body": ["hello #x", "＝SUM(A1)", None],
            "kind": ["post", "quote", "bogus"],
            "parent": [None, "1", None],
            "tags": [["x", "#Y"], [], None],
            "src": ["pf", "pf", "pf"],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    mapping = {
        "platform": {"column": "src"},
        "timezone": "Asia/Tokyo",
        "columns": {
            "post_id": "id",
            "account_id": "user",
            "created_at": "ts",
            "text": "body",
            "kind": "kind",
            "ref_post_id": "parent",
            "hashtags": "tags",
        },
    }
    [info] = ingest(store, path, options={"mapping": mapping})
    assert (info.format, info.records, info.posts, info.rejected) == ("generic", 3, 2, 1)
    assert store.sql(
        "SELECT platform, post_id, account_id, created_at, kind, ref_post_id, text "
        "FROM posts ORDER BY post_id"
    ) == [
        ("pf", "1", "a", at(2025, 7, 10, 0), "post", None, "hello #x"),
        ("pf", "2", "b", at(2025, 7, 10, 1), "quote", "1", "＝SUM(A1)"),
    ]
    assert store.sql("SELECT post_id, tag FROM post_hashtags ORDER BY ALL") == [
        ("1", "Y"),
        ("1", "x"),
    ]
    assert store.sql("SELECT line, location, reason FROM rejects") == [
        (None, "row 3, column kind", "unknown kind 'bogus' (known: post, quote, reply, repost)")
    ]


def test_engagements(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "likes.tsv"
    path.write_text(
        "who\tpost\twhen\nu1\tp9\t2025-07-10T03:00:00+09:00\nu2\tp9\t1752116400\n", encoding="utf-8"
    )
    mapping = {
        "platform": "forum",
        "table": "engagements",
        "kind": "like",
        "columns": {"account_id": "who", "target_post_id": "post", "at": "when"},
    }
    [info] = ingest(store, path, options={"mapping": mapping, "delimiter": "\t"})
    assert (info.engagements, info.rejected) == (2, 0)
    # 03:00+09:00 = 18:00Z the day before; epoch 1752116400 = 2025-07-10 03:00Z.
    assert store.sql(
        'SELECT account_id, kind, target_post_id, "at" FROM engagements ORDER BY ALL'
    ) == [("u1", "like", "p9", at(2025, 7, 9, 18)), ("u2", "like", "p9", at(2025, 7, 10, 3))]


def test_without_mapping(tmp_path: Path, store: Store) -> None:
    sink = Sink(lambda table, batch: None)
    with pytest.raises(ConfigError, match="YAML column mapping"):
        GenericTable().parse(SourceFile(POSTS), sink)
    # Through ingest the named format is checked first (see the registry); either way the
    # message explains the mapping.
    with pytest.raises(ValueError, match="mapping"):
        ingest(store, POSTS, format="generic")


def test_bad_mapping_is_a_config_error(store: Store) -> None:
    bad = {"platform": "x", "columns": {"post_id": "id", "txet": "body"}}
    with pytest.raises(ConfigError, match="txet"):
        ingest(store, POSTS, options={"mapping": bad})
    with pytest.raises(ConfigError, match="timezone"):
        ingest(
            store,
            POSTS,
            options={
                "mapping": {
                    "platform": "x",
                    "timezone": "Mars/Olympus",
                    "columns": {"post_id": "id"},
                }
            },
        )


def test_missing_column_is_a_mismatch(store: Store) -> None:
    mapping = {"platform": "x", "columns": {"post_id": "id", "text": "content"}}
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, POSTS, options={"mapping": mapping})
    msg = str(err.value)
    assert "\n" not in msg
    assert "'content'" in msg and "columns present: 'id', 'user_id'" in msg


def test_sniffing() -> None:
    fmt = registry.get("generic")
    assert fmt.sniff(SourceFile(POSTS)) == 0.0  # no mapping: never claims a file
    assert fmt.sniff(SourceFile(POSTS, dict(OPTS))) == 0.6
    assert registry.detect(SourceFile(POSTS, dict(OPTS))).name == "generic"
    for other in (
        "x_v2/search_page.jsonl",
        "x_v1/stream.jsonl",
        "x_v1/garbage.bin",
        "io_archive/garbage.bin",
    ):
        assert fmt.sniff(SourceFile(FIX / other, dict(OPTS))) == 0.0, other
    # A CSV of a specific format stays with that format.
    assert (
        registry.detect(SourceFile(FIX / "io_archive" / "tweets_csv_hashed.csv", dict(OPTS))).name
        == "io-archive"
    )


def test_gzip_input(tmp_path: Path, store: Store) -> None:
    gz = tmp_path / "posts.csv.gz"
    with POSTS.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    [info] = ingest(store, gz, options=OPTS)
    assert (info.format, info.records, info.posts, info.rejected) == ("generic", 5, 3, 2)
    assert [r[0] for r in store.sql("SELECT line FROM rejects ORDER BY line")] == [6, 7]


def test_idempotent(store: Store) -> None:
    ingest(store, POSTS, options=OPTS)
    before = {t: store.count(t) for t in ("posts", "accounts", "post_hashtags", "rejects")}
    [again] = ingest(store, POSTS, options=OPTS)
    assert again.skipped
    assert {t: store.count(t) for t in before} == before


def test_round_trip_through_parquet(tmp_path: Path, store: Store) -> None:
    ingest(store, POSTS, options=OPTS)
    out = tmp_path / "posts.parquet"
    store.export_table("posts", out, fmt="parquet")
    back = {r["post_id"]: r["text"] for r in pq.read_table(out).to_pylist()}
    assert back == {
        "p1": "物価高は政府のせいだ",
        "p2": "RT 物価高は政府のせいだ",
        "p3": 'multi\r\nline "quoted" =1+1\u200b',
    }
    # ...and the exported Parquet reads back in through the generic format itself.
    again = Store(tmp_path / "again.duckdb")
    mapping = {
        "platform": "forum",
        "columns": {
            "post_id": "post_id",
            "text": "text",
            "created_at": "created_at",
            "kind": "kind",
            "ref_post_id": "ref_post_id",
        },
    }
    ingest(again, out, options={"mapping": mapping})
    assert dict(again.sql("SELECT post_id, text FROM posts")) == back
    assert again.sql("SELECT created_at FROM posts WHERE post_id = 'p1'") == [
        (at(2025, 7, 10, 3, 4, 5),)
    ]
    again.close()
