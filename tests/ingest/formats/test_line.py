"""The ``line`` format against tests/fixtures/line/.

talk_ja.txt (UTF-8 with BOM, CRLF), chat 参院選を語る会, times JST (UTC+9):

 1-3  header, 保存日時, blank
 4    2025/07/10(木)
 5    12:00 たろう   ＃参院選 + asahi link                        → post, 03:00Z
 6-9  12:01 はなこ   quoted 4-line message with ""引用"" and a blank line → one post, 03:01Z
10    12:02 system line (unsent)                                 → counted, no post
11    12:03 たろう   [スタンプ]                                   → post without text
12    12:04 じろう   [写真]                                       → post without text
13-14 12:05 じろう   unquoted message continued on line 14        → post with a link
15    12:06 じろう   hostile text                                 → post, byte-exact
16-17 blank, 2025/07/11(金)
18    garbage where a message is expected                        → reject line 18
19    午後1:05 はなこ 'C#' and '#123' are no hashtags              → post, 07-11 04:05Z
20    25:99                                                      → reject line 20
21    2025/13/45(金)                                             → reject line 21
22    a message under that invalid date                          → reject line 22
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fimiscope.errors import ConfigError, FormatMismatchError
from fimiscope.ingest import ingest
from fimiscope.ingest.registry import detect, get
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIXTURES = Path(__file__).parents[2] / "fixtures"
JA = FIXTURES / "line" / "talk_ja.txt"
EN = FIXTURES / "line" / "talk_en.txt"
CUT = FIXTURES / "line" / "truncated_quote.txt"
CHAT = "参院選を語る会"
HOSTILE = (
    '<script>alert(1)</script>\'; DROP TABLE posts;-- =HYPERLINK("http://evil.example",'
    '"x") \u202eRTL\u202c 🇯🇵😀 \x07end'
)


def t(minute: int, hour: int = 3, day: int = 10) -> datetime:
    return datetime(2025, 7, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def rows(store: Store, sql: str) -> set[tuple]:
    return set(store.sql(sql))


def test_sniff_claims_line_exports_and_nothing_else() -> None:
    for path in (JA, EN, CUT):
        assert detect(SourceFile(path)).name == "line"
    fmt = get("line")
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.parent.name != "line"]
    assert FIXTURES / "x_v2" / "search_page.jsonl" in others
    for path in others:
        assert fmt.sniff(SourceFile(path)) < 0.5, path


def test_sniff_without_the_header(tmp_path: Path) -> None:
    body = JA.read_bytes().split(b"\r\n", 3)[3]  # header, saved-on and blank line cut away
    path = tmp_path / "cut.txt"
    path.write_bytes(body)
    assert get("line").sniff(SourceFile(path)) == 0.6


def test_posts(store: Store) -> None:
    [info] = ingest(store, JA)
    # Records: 8 messages/system lines + 4 bad lines; the system line is not a post.
    assert (info.format, info.records, info.posts, info.rejected) == ("line", 12, 7, 4)
    assert rows(store, "SELECT post_id, account_id, created_at, kind, text FROM posts") == {
        (
            f"{CHAT}/5",
            "たろう",
            t(0),
            "post",
            "物価高は政府のせいだ ＃参院選 https://www.asahi.com/articles/ASX1.html?utm_source=line",
        ),
        # Outer quotes removed, "" unescaped, the CRLFs and the inner blank line kept as \n.
        (f"{CHAT}/6", "はなこ", t(1), "post", '一行目\n二行目 "引用" #拡散希望\n\n三行目'),
        (f"{CHAT}/11", "たろう", t(3), "post", None),
        (f"{CHAT}/12", "じろう", t(4), "post", None),
        (f"{CHAT}/13", "じろう", t(5), "post", "続きは\nこちら https://example.com/a#frag)."),
        (f"{CHAT}/15", "じろう", t(6), "post", HOSTILE),
        (f"{CHAT}/19", "はなこ", t(5, hour=4, day=11), "post", "午後表記 C#はタグではない #123 も"),
    }
    assert rows(store, "SELECT account_id, display_name FROM accounts") == {
        ("たろう", "たろう"),
        ("はなこ", "はなこ"),
        ("じろう", "じろう"),
    }


def test_hostile_text_is_stored_byte_exact(store: Store) -> None:
    ingest(store, JA)
    [(text,)] = store.sql("SELECT text FROM posts WHERE post_id = ?", [f"{CHAT}/15"])
    assert text.encode() == HOSTILE.encode()


def test_links_and_hashtags(store: Store) -> None:
    ingest(store, JA)
    assert rows(store, "SELECT post_id, position, url, url_norm FROM post_urls") == {
        (
            f"{CHAT}/5",
            0,
            "https://www.asahi.com/articles/ASX1.html?utm_source=line",
            "https://www.asahi.com/articles/ASX1.html",
        ),
        # The trailing ')' and '.' are prose, and '#frag' is no hashtag.
        (f"{CHAT}/13", 0, "https://example.com/a#frag", "https://example.com/a"),
        # The link inside =HYPERLINK("...") ends at the quote.
        (f"{CHAT}/15", 0, "http://evil.example", "http://evil.example"),
    }
    assert rows(store, "SELECT post_id, position, tag, tag_norm FROM post_hashtags") == {
        (f"{CHAT}/5", 0, "参院選", "参院選"),
        (f"{CHAT}/6", 0, "拡散希望", "拡散希望"),
    }


def test_rejects_carry_line_offset_and_reason(store: Store) -> None:
    ingest(store, JA)
    got = store.sql("SELECT line, byte_offset, reason, excerpt FROM rejects ORDER BY line")
    assert [(line, reason) for line, _, reason, _ in got] == [
        (18, "expected a date line or a message 'HH:MM<TAB>sender<TAB>text'"),
        (20, "bad time '25:99'"),
        (21, "bad date line (month must be in 1..12)"),
        (22, "a message before any valid date line"),
    ]
    data = JA.read_bytes()
    for _, offset, _, excerpt in got:
        assert data[offset:].decode().startswith(excerpt)


def test_english_export(store: Store) -> None:
    [info] = ingest(store, EN)
    assert (info.records, info.posts, info.rejected) == (3, 2, 0)
    # 'Thu, 07/10/2025' is month/day/year; '1:05 PM' is 13:05 JST.
    assert rows(store, "SELECT post_id, account_id, created_at FROM posts") == {
        ("Hanako/5", "Hanako", t(0)),
        ("Hanako/6", "Taro", t(5, hour=4)),
    }


def test_timezone_option(store: Store) -> None:
    ingest(store, EN, options={"timezone": "UTC"})
    assert rows(store, "SELECT post_id, created_at FROM posts") == {
        ("Hanako/5", t(0, hour=12)),
        ("Hanako/6", t(5, hour=13)),
    }


def test_bad_timezone_is_a_config_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="timezone"):
        ingest(store, EN, options={"timezone": "Mars/Olympus"})


def test_unterminated_quote_is_rejected(store: Store) -> None:
    [info] = ingest(store, CUT)
    assert (info.posts, info.rejected) == (1, 1)
    assert store.sql("SELECT line, reason FROM rejects") == [
        (6, "a quoted message that never ends (is the file cut short?)")
    ]
    # '2025.07.10 木曜日' dates; 08:00 JST is 23:00Z the day before.
    assert store.sql("SELECT post_id, created_at FROM posts") == [("家族/5", t(0, 23, 9))]


def test_undecodable_line_is_rejected_alone(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(
        JA.read_bytes().replace("12:03\tたろう\t[スタンプ]".encode(), b"12:03\t\xff\xfe\t[x]")
    )
    [info] = ingest(store, path)
    assert (info.posts, info.rejected) == (6, 5)
    [(reason,)] = store.sql("SELECT reason FROM rejects WHERE line = 11")
    assert reason.startswith("not UTF-8")


def test_named_format_with_the_wrong_file_is_a_one_line_error(store: Store) -> None:
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, FIXTURES / "telegram" / "channel_result.json", format="line")
    assert "\n" not in str(err.value)
    assert "is not a LINE talk history text export" in str(err.value)


def test_gzip_and_idempotent_reingest(store: Store, tmp_path: Path) -> None:
    gz = tmp_path / "talk.txt.gz"
    gz.write_bytes(gzip.compress(JA.read_bytes()))
    [first] = ingest(store, gz)
    assert (first.records, first.posts, first.rejected) == (12, 7, 4)
    assert ingest(store, gz)[0].skipped
    [plain] = ingest(store, JA)  # same content, other bytes: same ids, nothing new
    assert (plain.posts, plain.accounts) == (0, 0)
    assert store.count("posts") == 7
