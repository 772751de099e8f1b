"""The ``telegram`` format against tests/fixtures/telegram/.

channel_result.json, public channel ニュース速報JP (id 1700000001), message by message
(date_unixtime T = 1752116400 = 2025-07-10T03:00:00Z; ``date`` is the same in JST):

 1 service   create_channel: counted, no post
 2 post      photo, reactions 12 👍 + 3 🔥 → like_count 15                      03:00
 3 post      text as a mixed list: link, #参院選, text_link, @sputnik_jp, bold      03:01
 4 repost    forwarded from Sputnik 日本 (forwarded_from_id channel1111111111)      03:02
 5 repost    forwarded from 'RT на русском' (name only, older export)              03:03
 6 reply     to message 2, full-width ＃参院選                                      03:04
 7 post      hostile text (HTML, SQL, =HYPERLINK, RTL marks, flags, BEL, NUL)      03:05
 8 post      no date_unixtime: 'date' 12:06 read as UTC; no from_id: the channel   12:06
 9 reject    date 'yesterday'
10 reject    text is a number
11 reject    message type 'poll_v2'
12 post      via @PostBot, an exported video file                                 03:09

account_result.json, a whole-account export: supergroup 参院選を語る会 (1800000002) where
たろう (user5001) and はなこ (user5002) forward the *same* Sputnik post as message 4 above,
a personal chat with Bob, and a chat whose id is broken (rejected with its one message).
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fimiscope.errors import FormatMismatchError, IngestError
from fimiscope.ingest import ingest
from fimiscope.ingest.registry import detect, get
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIXTURES = Path(__file__).parents[2] / "fixtures"
CHANNEL = FIXTURES / "telegram" / "channel_result.json"
ACCOUNT = FIXTURES / "telegram" / "account_result.json"
TRUNCATED = FIXTURES / "telegram" / "truncated_result.json"
CH = "channel1700000001"
SPUTNIK = "channel1111111111"
# sha256 over [text, media_type, mime_type, width, height, duration, photo_file_size, file_size,
# sticker_emoji] of the Sputnik forward, first 16 hex digits (see _forward_ref).
SPUTNIK_FWD = "fwd:channel1111111111:a2b9cf5d7eec13fb"
RT_FWD = "fwd:name:RT на русском:9a007006742bbf0e"


def t(minute: int, hour: int = 3, second: int = 0) -> datetime:
    return datetime(2025, 7, 10, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def rows(store: Store, sql: str) -> set[tuple]:
    return set(store.sql(sql))


def test_sniff_claims_both_export_kinds_and_nothing_else() -> None:
    assert detect(SourceFile(CHANNEL)).name == "telegram"
    assert detect(SourceFile(ACCOUNT)).name == "telegram"
    fmt = get("telegram")
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.parent.name != "telegram"]
    assert FIXTURES / "x_v2" / "search_page.jsonl" in others
    for path in others:
        assert fmt.sniff(SourceFile(path)) < 0.5, path


def test_channel_posts(store: Store) -> None:
    [info] = ingest(store, CHANNEL)
    # 12 messages + the chat itself are records; 8 posts; 3 rejects.
    assert (info.format, info.records, info.posts, info.rejected) == ("telegram", 13, 8, 3)
    assert rows(
        store,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, "
        "ref_account_id, like_count, client, is_stub FROM posts",
    ) == {
        ("1700000001/2", CH, t(0), "post", None, None, 15, None, False),
        ("1700000001/3", CH, t(1), "post", None, None, None, None, False),
        ("1700000001/4", CH, t(2), "repost", SPUTNIK_FWD, SPUTNIK, None, None, False),
        ("1700000001/5", CH, t(3), "repost", RT_FWD, None, None, None, False),
        # The reply knows whom it answers: message 2 was the channel's.
        ("1700000001/6", CH, t(4), "reply", "1700000001/2", CH, None, None, False),
        ("1700000001/7", CH, t(5), "post", None, None, None, None, False),
        ("1700000001/8", CH, t(6, hour=12), "post", None, None, None, None, False),
        ("1700000001/12", CH, t(9), "post", None, None, None, "@PostBot", False),
        (SPUTNIK_FWD, SPUTNIK, None, "post", None, None, None, None, True),
        (RT_FWD, None, None, "post", None, None, None, None, True),
    }
    [(text, url)] = store.sql("SELECT text, url FROM posts WHERE post_id = '1700000001/3'")
    assert text == (
        "詳しくは https://www.asahi.com/articles/ASX1.html?utm_source=tg #参院選 "
        "こちら @sputnik_jp 拡散希望"
    )
    assert url == "https://t.me/c/1700000001/3"


def test_hostile_text_is_stored_byte_exact(store: Store) -> None:
    ingest(store, CHANNEL)
    [(text,)] = store.sql("SELECT text FROM posts WHERE post_id = '1700000001/7'")
    assert text == (
        '<b>x</b>\'; DROP TABLE posts;-- =HYPERLINK("http://evil.example","x") '
        "\u202eRTL\u202c 🇯🇵😀 \x07\x00end"
    )


def test_entities_and_media(store: Store) -> None:
    ingest(store, CHANNEL)
    assert rows(store, "SELECT post_id, position, url, url_norm FROM post_urls") == {
        (
            "1700000001/3",
            0,
            "https://www.asahi.com/articles/ASX1.html?utm_source=tg",
            "https://www.asahi.com/articles/ASX1.html",
        ),
        ("1700000001/3", 1, "https://example.org/a?b=1", "https://example.org/a?b=1"),
    }
    assert rows(store, "SELECT post_id, position, tag, tag_norm FROM post_hashtags") == {
        ("1700000001/3", 0, "参院選", "参院選"),
        ("1700000001/6", 0, "参院選", "参院選"),
    }
    assert rows(store, "SELECT post_id, handle FROM post_mentions") == {
        ("1700000001/3", "sputnik_jp")
    }
    # Message 4's photo was not exported: no media row for a placeholder path.
    assert rows(store, "SELECT post_id, position, media_key, media_type FROM post_media") == {
        ("1700000001/2", 0, "photos/photo_1@10-07-2025_12-00-00.jpg", "photo"),
        ("1700000001/12", 0, "video_files/clip.mp4", "video_file"),
    }
    assert rows(store, "SELECT account_id, display_name FROM accounts") == {
        (CH, "ニュース速報JP"),
        (SPUTNIK, "Sputnik 日本"),
    }


def test_rejects_carry_the_line_of_the_message(store: Store) -> None:
    ingest(store, CHANNEL)
    got = store.sql("SELECT line, byte_offset, location, reason FROM rejects ORDER BY line")
    assert [(loc, reason) for _, _, loc, reason in got] == [
        ("messages[8].date", "bad date 'yesterday'"),
        ("messages[9].text", "text is neither a string nor a list: 12345"),
        ("messages[10].type", "unknown message type 'poll_v2'"),
    ]
    # Each place is the '{' that opens the message whose next line is '"id": N,'.
    lines = CHANNEL.read_text(encoding="utf-8").split("\n")
    data = CHANNEL.read_bytes()
    for (line, offset, _, _), mid in zip(got, (9, 10, 11), strict=True):
        assert lines[line - 1].strip() == "{" and lines[line].strip() == f'"id": {mid},'
        assert data[offset : offset + 1] == b"{"


def test_forwards_of_one_original_share_the_reposted_id(store: Store) -> None:
    ingest(store, [CHANNEL, ACCOUNT])
    # The channel and both group members forwarded the same Sputnik post: a co-repost.
    assert set(
        store.sql("SELECT post_id, account_id FROM posts WHERE ref_post_id = ?", [SPUTNIK_FWD])
    ) == {("1700000001/4", CH), ("1800000002/2", "user5001"), ("1800000002/3", "user5002")}


def test_account_export(store: Store) -> None:
    [info] = ingest(store, ACCOUNT)
    # Records: 3 chats + 5 + 1 messages (the broken chat's message goes with its reject).
    assert (info.records, info.posts, info.rejected) == (9, 5, 1)
    assert rows(
        store,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, "
        "ref_account_id, like_count FROM posts WHERE NOT is_stub",
    ) == {
        ("1800000002/2", "user5001", t(3, second=20), "repost", SPUTNIK_FWD, SPUTNIK, None),
        ("1800000002/3", "user5002", t(3, second=25), "repost", SPUTNIK_FWD, SPUTNIK, None),
        ("1800000002/4", "user5002", t(4, second=20), "reply", "1800000002/2", "user5001", 1),
        ("1800000002/5", "user5003", t(5), "post", None, None, None),
        ("5004/1", "user5004", t(6, second=40), "post", None, None, None),
    }
    # A mention of a user without a username names the account, not a handle.
    assert store.sql("SELECT post_id, handle, mentioned_account_id FROM post_mentions") == [
        ("1800000002/4", None, "user5001")
    ]
    # The recent reactor of message 4 (its 'date' has no offset: read as UTC).
    assert store.sql(
        'SELECT account_id, kind, target_post_id, target_account_id, "at" FROM engagements'
    ) == [("user5001", "reaction:❤", "1800000002/4", "user5002", t(5, hour=12))]
    [(location, reason)] = store.sql("SELECT location, reason FROM rejects")
    assert location == "chats.list[2].id"
    assert reason == (
        "chat id is not a number: 'not-an-id'; its 1 messages cannot be named and are not read"
    )


def test_truncated_export_is_a_clear_file_error(store: Store) -> None:
    with pytest.raises(FormatMismatchError, match="may be truncated"):
        ingest(store, TRUNCATED)
    assert store.count("posts") == 0


def test_named_format_with_the_wrong_file_is_a_one_line_error(store: Store) -> None:
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, FIXTURES / "jetstream" / "events.jsonl", format="telegram")
    assert "\n" not in str(err.value)
    assert "is not a Telegram Desktop JSON export" in str(err.value)


def test_gzip_and_idempotent_reingest(store: Store, tmp_path: Path) -> None:
    gz = tmp_path / "result.json.gz"
    gz.write_bytes(gzip.compress(CHANNEL.read_bytes()))
    [first] = ingest(store, gz)
    assert (first.records, first.posts, first.rejected) == (13, 8, 3)
    # Reject places are found in the decompressed stream too.
    assert store.sql("SELECT min(line) FROM rejects") != [(None,)]
    assert ingest(store, gz)[0].skipped
    [plain] = ingest(store, CHANNEL)  # the same content uncompressed: nothing new
    assert (plain.posts, plain.accounts) == (0, 0)
    assert store.count("posts") == 10


def test_size_limit_is_an_error_not_an_out_of_memory(store: Store) -> None:
    with pytest.raises(IngestError, match="max_bytes"):
        ingest(store, CHANNEL, options={"max_bytes": 1000})
