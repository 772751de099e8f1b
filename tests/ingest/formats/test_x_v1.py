"""x-v1: Twitter API v1.1 statuses as JSON Lines (tests/fixtures/x_v1/stream.jsonl).

The fixture, line by line:
 1  original 101 by alice (1001), extended mode, hashtag, link, photo
 2  retweet 102 by yuki (1002) of 101, with 101 embedded as retweeted_status
 3  reply 103 by carol (1003) to 101, compatibility mode (truncated text + extended_tweet),
    quoting 1943999999999999999 whose status is not embedded (deleted)
 4  quote 104 by yuki of 105, 105 (sputnik_jp, 1004, withheld in DE,FR) embedded; a video
 5  delete notice, 6 limit notice, 7 blank
 8  a cut JSON line, 9 a status with hour 25, 10 a JSON array        -> three rejects
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from fimiscope.errors import FormatMismatchError, UnknownFormatError
from fimiscope.ingest import ingest, registry
from fimiscope.ingest.formats.x_v1 import client_name
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIX = Path(__file__).parents[2] / "fixtures"
STREAM = FIX / "x_v1" / "stream.jsonl"
P = "19440000000000001"  # prefix of the fixture's tweet ids


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def test_posts_kinds_refs_and_times(store: Store) -> None:
    [info] = ingest(store, STREAM)
    # 9 records (blank line 7 is not one), 3 rejected; 5 posts + the stub of the deleted quote.
    assert (info.format, info.records, info.rejected, info.posts) == ("x-v1", 9, 3, 5)
    rows = store.sql("""SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id,
                               client, like_count, repost_count, reply_count, is_truncated,
                               is_stub, withheld, url
                          FROM posts ORDER BY post_id""")
    assert rows == [
        (
            "1940000000000000005",
            "1004",
            at(2025, 7, 9, 23),
            "post",
            None,
            None,
            "TweetDeck",
            900,
            300,
            None,
            False,
            False,
            "DE,FR",
            "https://x.com/sputnik_jp/status/1940000000000000005",
        ),
        (
            "1943999999999999999",
            None,
            None,
            "post",
            None,
            None,
            None,
            None,
            None,
            None,
            False,
            True,
            None,
            None,
        ),
        (
            P + "01",
            "1001",
            at(2025, 7, 10, 3, 4, 5),
            "post",
            None,
            None,
            "Twitter for iPhone",
            5,
            1,
            None,
            False,
            False,
            None,
            f"https://x.com/alice_jp/status/{P}01",
        ),
        # The retweet points at the original and its author, taken from retweeted_status.
        (
            P + "02",
            "1002",
            at(2025, 7, 10, 3, 4, 9),
            "repost",
            P + "01",
            "1001",
            "Twitter Web App",
            0,
            1,
            None,
            False,
            False,
            None,
            f"https://x.com/yuki84629175/status/{P}02",
        ),
        # Reply wins over quote for the kind; reply/quote counts are given in this one.
        (
            P + "03",
            "1003",
            at(2025, 7, 10, 4),
            "reply",
            P + "01",
            "1001",
            "Twitter Web App",
            0,
            0,
            0,
            False,
            False,
            None,
            f"https://x.com/carol_x/status/{P}03",
        ),
        # `&amp;` in the HTML source is unescaped in the client name.
        (
            P + "04",
            "1002",
            at(2025, 7, 10, 5),
            "quote",
            "1940000000000000005",
            "1004",
            "Twitter for Android & more",
            2,
            0,
            None,
            False,
            False,
            None,
            f"https://x.com/yuki84629175/status/{P}04",
        ),
    ]
    assert store.sql(
        "SELECT post_id, ref_type, ref_post_id, ref_account_id FROM post_refs ORDER BY ALL"
    ) == [
        (P + "02", "repost", P + "01", "1001"),
        (P + "03", "quote", "1943999999999999999", None),
        (P + "03", "reply", P + "01", "1001"),
        (P + "04", "quote", "1940000000000000005", "1004"),
    ]


def test_text_is_stored_as_exported(store: Store) -> None:
    ingest(store, STREAM)
    texts = dict(store.sql("SELECT post_id, text FROM posts WHERE NOT is_stub"))
    # 103 is in compatibility mode: the full text comes from extended_tweet.
    assert (
        texts[P + "03"]
        == "@alice_jp 違うと思う。＃参院選 \u200b長い説明が続きます https://t.co/quote1"
    )
    # Hostile text (formula, HTML entities, bidi override, CRLF) kept byte for byte.
    assert texts[P + "04"] == (
        '見て→ =HYPERLINK("x") &lt;script&gt;alert(1)&lt;/script&gt; '
        "\u202eevil\u202c 🇯🇵\r\n２行目 https://t.co/vid1"
    )
    assert texts[P + "02"].startswith("RT @alice_jp: 物価高は政府のせいだ")


def test_entities(store: Store) -> None:
    ingest(store, STREAM)
    assert store.sql("SELECT post_id, position, url_norm, domain FROM post_urls ORDER BY ALL") == [
        ("1940000000000000005", 0, "https://sputniknews.jp/20250709/1.html", "sputniknews.jp"),
        (P + "01", 0, "https://www.asahi.com/articles/ASX1.html", "asahi.com"),
        (P + "02", 0, "https://www.asahi.com/articles/ASX1.html", "asahi.com"),
        # 103's entities come from extended_tweet (not the truncated i/web link).
        (P + "03", 0, "https://x.com/bob/status/1943999999999999999", "x.com"),
    ]
    assert store.sql("SELECT post_id, tag FROM post_hashtags ORDER BY ALL") == [
        (P + "01", "参院選"),
        (P + "02", "参院選"),
        (P + "03", "参院選"),
    ]
    assert store.sql(
        "SELECT post_id, handle, mentioned_account_id FROM post_mentions ORDER BY ALL"
    ) == [(P + "02", "alice_jp", "1001"), (P + "03", "alice_jp", "1001")]
    # extended_entities wins over entities (whose single item is the video's thumbnail).
    assert store.sql("SELECT post_id, media_key, media_type FROM post_media ORDER BY ALL") == [
        (P + "01", "3_1944000000000000109", "photo"),
        (P + "02", "3_1944000000000000109", "photo"),
        (P + "04", "7_1944000000000000209", "video"),
    ]


def test_accounts_with_first_seen(store: Store) -> None:
    ingest(store, STREAM)
    rows = store.sql("""SELECT account_id, handle, display_name, location, created_at,
                               followers_count, following_count, posts_count, verified,
                               default_profile_image, first_seen_at
                          FROM accounts ORDER BY account_id""")
    # first_seen_at = earliest own post in the file; ghost (1005, line 9) was undone.
    assert rows == [
        (
            "1001",
            "alice_jp",
            "Alice",
            "東京",
            at(2012, 1, 2, 3, 4, 5),
            120,
            80,
            4000,
            False,
            False,
            at(2025, 7, 10, 3, 4, 5),
        ),
        (
            "1002",
            "yuki84629175",
            "yuki84629175",
            None,
            at(2025, 4, 2, 10),
            1,
            900,
            40,
            False,
            True,
            at(2025, 7, 10, 3, 4, 9),
        ),
        (
            "1003",
            "carol_x",
            "Carol \u202eloraC\u202c",
            None,
            at(2018, 2, 3),
            10,
            10,
            100,
            False,
            False,
            at(2025, 7, 10, 4),
        ),
        (
            "1004",
            "sputnik_jp",
            "Sputnik 日本",
            None,
            at(2016, 3, 1, 9),
            50000,
            10,
            90000,
            True,
            False,
            at(2025, 7, 9, 23),
        ),
    ]
    assert store.sql("SELECT description FROM accounts WHERE account_id = '1003'") == [
        ('=HYPERLINK("http://evil")\nline2',)
    ]


def test_rejects_have_line_and_reason(store: Store) -> None:
    ingest(store, STREAM)
    rows = store.sql("SELECT line, location, reason, format FROM rejects ORDER BY line")
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (8, None, "x-v1"),
        (9, "created_at", "x-v1"),
        (10, None, "x-v1"),
    ]
    assert rows[0][2].startswith("invalid JSON")
    assert rows[1][2] == "bad created_at 'Thu Jul 10 25:61:00 +0000 2025'"
    assert rows[2][2] == "expected a JSON object, got list"


def test_sniffing() -> None:
    fmt = registry.get("x-v1")
    assert registry.detect(SourceFile(STREAM)).name == "x-v1"
    assert fmt.sniff(SourceFile(FIX / "x_v2" / "search_page.jsonl")) == 0.0
    assert registry.get("x-v2").sniff(SourceFile(STREAM)) < registry.SNIFF_THRESHOLD
    for other in (
        "io_archive/tweets_csv_hashed.csv",
        "io_archive/users_csv_hashed.csv",
        "generic/posts.csv",
        "x_v1/garbage.bin",
    ):
        assert fmt.sniff(SourceFile(FIX / other)) == 0.0, other


def test_notices_only_file(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "deletes.jsonl"
    path.write_bytes(
        b'{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"},'
        b'"timestamp_ms":"1752123456789"}}\n{"limit":{"track":3,"timestamp_ms":"1"}}\n'
    )
    assert registry.detect(SourceFile(path)).name == "x-v1"
    [info] = ingest(store, path)
    assert (info.records, info.rejected, info.posts) == (2, 0, 0)


def test_format_override_mismatch(store: Store) -> None:
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, FIX / "io_archive" / "tweets_csv_hashed.csv", format="x-v1")
    assert "\n" not in str(err.value) and "v1.1" in str(err.value)


def test_garbage_is_unknown(store: Store) -> None:
    with pytest.raises(UnknownFormatError):
        ingest(store, FIX / "x_v1" / "garbage.bin")


def test_truncated_file(store: Store) -> None:
    # Line 1 is whole; line 2 stops mid-object (a collector killed while writing).
    [info] = ingest(store, FIX / "x_v1" / "truncated.jsonl")
    assert (info.records, info.posts, info.rejected) == (2, 1, 1)
    assert store.sql("SELECT line FROM rejects") == [(2,)]


def test_gzip_input(tmp_path: Path, store: Store) -> None:
    gz = tmp_path / "stream.jsonl.gz"
    with STREAM.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    [info] = ingest(store, gz)
    assert (info.format, info.records, info.posts, info.rejected) == ("x-v1", 9, 5, 3)
    assert store.sql("SELECT line, byte_offset FROM rejects ORDER BY line")[0] == (8, 15551)


def test_idempotent(store: Store) -> None:
    ingest(store, STREAM)
    before = {t: store.count(t) for t in ("posts", "accounts", "post_refs", "rejects")}
    [again] = ingest(store, STREAM)
    assert again.skipped
    assert {t: store.count(t) for t in before} == before


def test_round_trip_through_parquet(tmp_path: Path, store: Store) -> None:
    ingest(store, STREAM)
    out = tmp_path / "posts.parquet"
    store.export_table("posts", out, fmt="parquet")
    back = {r["post_id"]: r["text"] for r in pq.read_table(out).to_pylist() if r["text"]}
    sent = {}
    for line in STREAM.read_bytes().splitlines()[:4]:
        obj = orjson.loads(line)
        for t in (obj, obj.get("retweeted_status"), obj.get("quoted_status")):
            if t:
                sent[t["id_str"]] = (t.get("extended_tweet") or {}).get("full_text") or (
                    t.get("full_text") or t["text"]
                )
    assert back == sent


def test_client_name() -> None:
    assert client_name('<a href="https://x" rel="nofollow">Twitter for iPhone</a>') == (
        "Twitter for iPhone"
    )
    assert client_name("web") == "web"
    assert client_name("") is None
