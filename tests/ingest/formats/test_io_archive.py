"""io-archive: Twitter information-operations archive CSVs (tests/fixtures/io_archive/).

tweets_csv_hashed.csv, record by record (physical lines in brackets):
 [1]     header (the 30 columns of the 2019-2021 releases)
 [2-3]   001 post by vesti_news_ru (2882331822), text with a line break, 2 hashtags, 1 link
 [4]     002 retweet of 001 by hashed account A, user_mentions as an id list
 [5]     003 reply by A to 001 that also quotes 1099999999999999999
 [6]     004 quote of 001 by hashed account B, empty counts, hostile text
 [7]     005 tweet_time 'yesterday'                      -> reject
 [8]     006 five fields only                            -> reject
 [9-10]  007 post by 2882331822, CRLF inside the text, a screen name and a hash mentioned
 [11]    008 is_retweet 'maybe'                          -> reject
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fimiscope.errors import FormatMismatchError, UnknownFormatError
from fimiscope.ingest import BadRecord, ingest, registry
from fimiscope.ingest.formats.generic import parse_list
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIX = Path(__file__).parents[2] / "fixtures"
TWEETS = FIX / "io_archive" / "tweets_csv_hashed.csv"
USERS = FIX / "io_archive" / "users_csv_hashed.csv"
T = "11000000000000000"  # prefix of the fixture's tweet ids
V = "2882331822"
A = hashlib.sha256(b"acct-a").hexdigest()
B = hashlib.sha256(b"acct-b").hexdigest()
C = hashlib.sha256(b"acct-c").hexdigest()
D = hashlib.sha256(b"acct-d").hexdigest()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def test_tweets_posts_and_refs(store: Store) -> None:
    [info] = ingest(store, TWEETS)
    assert (info.format, info.records, info.rejected, info.posts, info.accounts) == (
        "io-archive",
        8,
        3,
        5,
        3,
    )
    rows = store.sql("""SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id,
                               lang, client, like_count, repost_count, reply_count, quote_count,
                               is_stub, url
                          FROM posts ORDER BY post_id""")
    assert rows == [
        # Stub for the quoted tweet of 003, known only by id.
        (
            "1099999999999999999",
            None,
            None,
            "post",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            True,
            None,
        ),
        (
            T + "01",
            V,
            at(2019, 3, 1, 14, 5),
            "post",
            None,
            None,
            "ru",
            "Twitter Web Client",
            3,
            2,
            1,
            0,
            False,
            f"https://x.com/vesti_news_ru/status/{T}01",
        ),
        # Retweet: ref = retweet_tweetid, ref account = retweet_userid; hashed author -> i/web.
        (
            T + "02",
            A,
            at(2019, 3, 1, 14, 6),
            "repost",
            T + "01",
            V,
            "ru",
            "Twitter for Android",
            0,
            0,
            0,
            0,
            False,
            f"https://x.com/i/web/status/{T}02",
        ),
        (
            T + "03",
            A,
            at(2019, 3, 1, 15, 30),
            "reply",
            T + "01",
            V,
            "ru",
            "Twitter for Android",
            0,
            0,
            0,
            0,
            False,
            f"https://x.com/i/web/status/{T}03",
        ),
        # Empty count cells are unknown (NULL), not zero.
        (
            T + "04",
            B,
            at(2019, 3, 2),
            "quote",
            T + "01",
            None,
            "en",
            "TweetDeck",
            None,
            None,
            None,
            None,
            False,
            f"https://x.com/i/web/status/{T}04",
        ),
        (
            T + "07",
            V,
            at(2019, 3, 3, 8),
            "post",
            None,
            None,
            "ru",
            "Twitter Web Client",
            0,
            0,
            0,
            0,
            False,
            f"https://x.com/vesti_news_ru/status/{T}07",
        ),
    ]
    assert store.sql(
        "SELECT post_id, ref_type, ref_post_id, ref_account_id FROM post_refs ORDER BY ALL"
    ) == [
        (T + "02", "repost", T + "01", V),
        (T + "03", "quote", "1099999999999999999", None),
        (T + "03", "reply", T + "01", V),
        (T + "04", "quote", T + "01", None),
    ]
    texts = dict(store.sql("SELECT post_id, text FROM posts WHERE NOT is_stub"))
    assert texts[T + "01"] == "Запад снова лжёт.\nПодробнее: https://t.co/x1 #Россия"
    assert texts[T + "04"] == 'Look: "fake" =1+1 \u200b<b>'
    assert texts[T + "07"] == "Ещё\r\nодна строка"


def test_tweets_entities(store: Store) -> None:
    ingest(store, TWEETS)
    assert store.sql("SELECT post_id, position, tag FROM post_hashtags ORDER BY ALL") == [
        (T + "01", 0, "Россия"),
        (T + "01", 1, "news"),
        (T + "03", 0, "Россия"),
    ]
    assert store.sql("SELECT post_id, url, url_norm FROM post_urls ORDER BY ALL") == [
        (
            T + "01",
            "https://ria.ru/20190301/1.html?utm_source=twitter",
            "https://ria.ru/20190301/1.html",
        ),
        (
            T + "03",
            "https://twitter.com/someone/status/1099999999999999999?s=20",
            "https://x.com/someone/status/1099999999999999999",
        ),
    ]
    # Ids (plain or hashed) are mentioned accounts; anything else is a screen name.
    assert store.sql(
        "SELECT post_id, position, handle, mentioned_account_id FROM post_mentions ORDER BY ALL"
    ) == [
        (T + "02", 0, None, V),
        (T + "03", 0, None, V),
        (T + "07", 0, "Some_One", None),
        (T + "07", 1, None, B),
    ]


def test_tweets_accounts(store: Store) -> None:
    ingest(store, TWEETS)
    rows = store.sql("""SELECT account_id, handle, display_name, location, description, created_at,
                               followers_count, following_count, lang, first_seen_at
                          FROM accounts ORDER BY account_id""")
    assert rows == [
        (
            V,
            "vesti_news_ru",
            "Вести Новости",
            "Москва",
            'Новости "24/7"',
            at(2014, 11, 20),
            1520,
            12,
            "ru",
            at(2019, 3, 1, 14, 5),
        ),
        # Hashed accounts keep their hashes as id, handle and name.
        (
            A,
            hashlib.sha256(b"sn-a").hexdigest(),
            hashlib.sha256(b"name-a").hexdigest(),
            None,
            None,
            at(2019, 1, 15),
            3,
            200,
            "ru",
            at(2019, 3, 1, 14, 6),
        ),
        (
            B,
            hashlib.sha256(b"sn-b").hexdigest(),
            hashlib.sha256(b"name-b").hexdigest(),
            "Россия",
            None,
            at(2018, 6, 30),
            8,
            31,
            "en",
            at(2019, 3, 2),
        ),
    ]


def test_rejects_carry_the_starting_line(store: Store) -> None:
    ingest(store, TWEETS)
    assert store.sql("SELECT line, location, reason FROM rejects ORDER BY line") == [
        (7, "tweet_time", "bad tweet_time 'yesterday'"),
        (8, None, "expected 30 fields, got 5 (a truncated or misquoted record)"),
        (11, "is_retweet", "not a boolean: 'maybe'"),
    ]
    [(excerpt,)] = store.sql("SELECT excerpt FROM rejects WHERE line = 8")
    assert excerpt == f"{T}06,{V},x,y,z\n"


def test_users_file(store: Store) -> None:
    [info] = ingest(store, USERS)
    # 4 records: V, A, C (bad follower_count 'many', lines 4-5), D.
    assert (info.format, info.records, info.rejected, info.posts, info.accounts) == (
        "io-archive",
        4,
        1,
        0,
        3,
    )
    assert store.sql(
        "SELECT account_id, followers_count, created_at, first_seen_at FROM accounts "
        "ORDER BY account_id"
    ) == [
        (V, 1520, at(2014, 11, 20), None),
        (A, 3, at(2019, 1, 15), None),
        (D, 0, at(2019, 2, 1), None),
    ]
    assert store.sql("SELECT line, location, reason FROM rejects") == [
        (4, "follower_count", "bad follower_count 'many'")
    ]
    assert C not in {r[0] for r in store.sql("SELECT account_id FROM accounts")}


def test_users_then_tweets_fill_first_seen(store: Store) -> None:
    ingest(store, [USERS, TWEETS])
    assert store.sql("SELECT first_seen_at FROM accounts WHERE account_id = ?", [V]) == [
        (at(2019, 3, 1, 14, 5),)
    ]


def test_truncated_file(store: Store) -> None:
    # Header, record 001 (lines 2-3), then a record cut inside a quoted field at line 4.
    [info] = ingest(store, FIX / "io_archive" / "tweets_truncated.csv")
    assert (info.records, info.posts, info.rejected) == (2, 1, 1)
    [(line, reason)] = store.sql("SELECT line, reason FROM rejects")
    assert line == 4 and reason.startswith("expected 30 fields, got 6")


def _rewrite(src: Path, dst: Path, drop: set[str], add: dict[str, str]) -> None:
    with src.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [c for c in rows[0] if c not in drop] + list(add)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, names, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        if r.get("tweet_time") and r["tweet_time"][0].isdigit() and r["is_retweet"] != "maybe":
            w.writerow({**r, **add})
    dst.write_text(buf.getvalue(), encoding="utf-8")


def test_extra_and_missing_optional_columns(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "tweets.csv"
    _rewrite(
        TWEETS, path, {"latitude", "longitude", "urls", "quote_count"}, {"poll_choices": "да|нет"}
    )
    [info] = ingest(store, path)
    assert (info.format, info.posts, info.rejected) == ("io-archive", 5, 0)
    assert store.count("post_urls") == 0
    assert store.sql("SELECT count(*) FROM posts WHERE quote_count IS NOT NULL") == [(0,)]


def test_missing_required_column(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "tweets.csv"
    _rewrite(TWEETS, path, {"tweet_time"}, {})
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, path, format="io-archive")
    assert "\n" not in str(err.value)


def test_sniffing() -> None:
    fmt = registry.get("io-archive")
    assert registry.detect(SourceFile(TWEETS)).name == "io-archive"
    assert registry.detect(SourceFile(USERS)).name == "io-archive"
    # Even with a generic mapping given, the specific format wins.
    opts = {"mapping": str(FIX / "generic" / "posts.yaml")}
    assert registry.detect(SourceFile(TWEETS, opts)).name == "io-archive"
    for other in (
        "x_v2/search_page.jsonl",
        "x_v1/stream.jsonl",
        "generic/posts.csv",
        "io_archive/garbage.bin",
    ):
        assert fmt.sniff(SourceFile(FIX / other)) == 0.0, other


def test_format_override_mismatch(store: Store) -> None:
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, FIX / "x_v1" / "stream.jsonl", format="io-archive")
    assert "\n" not in str(err.value) and "information-operations" in str(err.value)


def test_garbage_is_unknown(store: Store) -> None:
    with pytest.raises(UnknownFormatError):
        ingest(store, FIX / "io_archive" / "garbage.bin")


def test_gzip_input(tmp_path: Path, store: Store) -> None:
    gz = tmp_path / "tweets.csv.gz"
    with TWEETS.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    [info] = ingest(store, gz)
    assert (info.format, info.records, info.posts, info.rejected) == ("io-archive", 8, 5, 3)
    assert [r[0] for r in store.sql("SELECT line FROM rejects ORDER BY line")] == [7, 8, 11]


def test_idempotent(store: Store) -> None:
    ingest(store, TWEETS)
    before = {t: store.count(t) for t in ("posts", "accounts", "post_mentions", "rejects")}
    [again] = ingest(store, TWEETS)
    assert again.skipped
    assert {t: store.count(t) for t in before} == before


def test_round_trip_through_parquet(tmp_path: Path, store: Store) -> None:
    ingest(store, TWEETS)
    out = tmp_path / "posts.parquet"
    store.export_table("posts", out, fmt="parquet")
    back = {r["post_id"]: r["text"] for r in pq.read_table(out).to_pylist() if not r["is_stub"]}
    with TWEETS.open(encoding="utf-8", newline="") as f:
        sent = {r["tweetid"]: r["tweet_text"] for r in csv.DictReader(f)}
    assert back == {k: v for k, v in sent.items() if k in back}
    assert set(back) == {T + n for n in ("01", "02", "03", "04", "07")}


def test_parse_list_is_safe() -> None:
    assert parse_list("['a', \"b c\"]") == ["a", "b c"]
    assert parse_list("[12, 34]") == ["12", "34"]
    assert parse_list("[KEEPITTROLLIN, MAGA]") == ["KEEPITTROLLIN", "MAGA"]
    assert parse_list("[]") == [] and parse_list("") == []
    with pytest.raises(BadRecord):
        parse_list("[__import__('os').system('true')]")
    with pytest.raises(BadRecord):
        parse_list("[" * 5000 + "]" * 5000)
