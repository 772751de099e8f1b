"""The ``jetstream`` format against tests/fixtures/jetstream/events.jsonl.

The fixture, line by line (T = 1752116400 s = 2025-07-10T03:00:00Z, time_us = T·1e6 + n s):

 1 identity  alice → handle alice.bsky.social (before any of her commits)
 2 post      alice 3lbc2k4x5ay2a, Japanese text, facets #参院選 / @bob / link, external card
             with the same link (kept once), createdAt 03:00:00.5Z
 3 repost    bob of alice's post
 4 like      carol of alice's post, no createdAt → time_us 03:00:03
 5 follow    bob → alice
 6 post      carol: reply to alice's post that also quotes dave's (recordWithMedia, 2 images),
             hostile text, four broken facets (skipped) and one good #ok; createdAt +09:00
 7 delete    counted, no rows
 8 account   dave taken down → dave's account row only
 9 identity  bob → bob.bsky.social (after his commits)
10 block     a collection not modelled: counted, no rows
11 post      bob, no createdAt (→ time_us 03:00:10), quotes alice (app.bsky.embed.record)
12 profile   alice → display name アリス, description 日本の政治, no avatar
13 reject    createdAt 'yesterday'
14 reject    not JSON
15 reject    an X API v2 line (another format): no time_us
16 reject    forged DID 'did:plc:x/../evil' (time_us T+13 s still moves the cursor)
17 reject    truncated last line
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fimiscope.errors import FormatMismatchError
from fimiscope.ingest import ingest
from fimiscope.ingest.formats.jetstream import _facets
from fimiscope.ingest.registry import detect, get
from fimiscope.ingest.sink import Sink
from fimiscope.ingest.source import SourceFile
from fimiscope.store import Store

FIXTURES = Path(__file__).parents[2] / "fixtures"
EVENTS = FIXTURES / "jetstream" / "events.jsonl"
A = "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
B = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb"
C = "did:plc:carolccccccccccccccccccc"
D = "did:web:dave.example.com"
ALICE_POST = f"at://{A}/app.bsky.feed.post/3lbc2k4x5ay2a"
CAROL_POST = f"at://{C}/app.bsky.feed.post/3lbc2k8aaaa2a"
BOB_POST = f"at://{B}/app.bsky.feed.post/3lbc2kcaaaa2a"
BOB_REPOST = f"at://{B}/app.bsky.feed.repost/3lbc2k5aaaa2a"
DAVE_POST = f"at://{D}/app.bsky.feed.post/3kzzzzzzzzz2a"
HOSTILE = (
    '<script>alert(1)</script>\'; DROP TABLE posts;-- =HYPERLINK("http://evil.example",'
    '"x") \u202eRTL\u202c 🇯🇵😀 \x07bell #ok'
)


def t(second: float) -> datetime:
    return datetime(2025, 7, 10, 3, 0, 0, tzinfo=UTC).replace(
        second=int(second), microsecond=round(second % 1 * 1e6)
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    yield s
    s.close()


def rows(store: Store, sql: str) -> set[tuple]:
    return set(store.sql(sql))


def test_sniff_claims_jetstream_and_nothing_else() -> None:
    assert detect(SourceFile(EVENTS)).name == "jetstream"
    fmt = get("jetstream")
    others = [p for p in FIXTURES.rglob("*") if p.is_file() and p.parent.name != "jetstream"]
    assert FIXTURES / "x_v2" / "search_page.jsonl" in others
    for path in others:
        assert fmt.sniff(SourceFile(path)) < 0.5, path


def test_posts_reposts_and_stubs(store: Store) -> None:
    [info] = ingest(store, EVENTS)
    # 4 full posts: alice's, bob's repost, carol's reply, bob's quote; dave's is a stub.
    assert (info.format, info.records, info.posts, info.rejected) == ("jetstream", 17, 4, 5)
    assert rows(
        store,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, "
        "ref_account_id, conversation_id, lang, is_stub FROM posts",
    ) == {
        (ALICE_POST, A, t(0.5), "post", None, None, ALICE_POST, "ja", False),
        (BOB_REPOST, B, t(2), "repost", ALICE_POST, A, None, None, False),
        # 12:00:05+09:00 is 03:00:05Z; the reply wins over the quote as the primary reference.
        (CAROL_POST, C, t(5), "reply", ALICE_POST, A, ALICE_POST, "en", False),
        (BOB_POST, B, t(10), "quote", ALICE_POST, A, BOB_POST, None, False),
        (DAVE_POST, D, None, "post", None, None, None, None, True),
    }
    assert rows(store, "SELECT post_id, ref_type, ref_post_id, ref_account_id FROM post_refs") == {
        (BOB_REPOST, "repost", ALICE_POST, A),
        (CAROL_POST, "reply", ALICE_POST, A),
        (CAROL_POST, "quote", DAVE_POST, D),
        (BOB_POST, "quote", ALICE_POST, A),
    }
    [(url,)] = store.sql("SELECT url FROM posts WHERE post_id = ?", [ALICE_POST])
    assert url == f"https://bsky.app/profile/{A}/post/3lbc2k4x5ay2a"


def test_hostile_text_is_stored_byte_exact(store: Store) -> None:
    ingest(store, EVENTS)
    [(text,)] = store.sql("SELECT text FROM posts WHERE post_id = ?", [CAROL_POST])
    assert text.encode() == HOSTILE.encode()


def test_facets_embeds_and_engagements(store: Store) -> None:
    ingest(store, EVENTS)
    assert rows(store, "SELECT post_id, position, tag, tag_norm FROM post_hashtags") == {
        (ALICE_POST, 0, "参院選", "参院選"),
        (CAROL_POST, 0, "ok", "ok"),  # the four broken facets before it were skipped
    }
    # The link facet and the external card name the same URL: one row.
    assert rows(store, "SELECT post_id, position, url, url_norm FROM post_urls") == {
        (
            ALICE_POST,
            0,
            "https://www.asahi.com/articles/ASX1.html?utm_source=bsky",
            "https://www.asahi.com/articles/ASX1.html",
        ),
    }
    # The handle is the facet's byte range of the text, '@' dropped.
    assert rows(
        store, "SELECT post_id, position, handle, mentioned_account_id FROM post_mentions"
    ) == {(ALICE_POST, 0, "bob.bsky.social", B)}
    assert rows(store, "SELECT post_id, position, media_key, media_type FROM post_media") == {
        (CAROL_POST, 0, "bafkreiimage1", "photo"),
        (CAROL_POST, 1, "bafkreiimage2", "photo"),
    }
    assert rows(
        store, 'SELECT account_id, kind, target_post_id, target_account_id, "at" FROM engagements'
    ) == {
        (C, "like", ALICE_POST, A, t(3)),  # no createdAt: time_us
        (B, "follow", None, A, t(4)),
    }


def test_accounts_from_identity_profile_and_account_events(store: Store) -> None:
    ingest(store, EVENTS)
    assert rows(
        store,
        "SELECT account_id, handle, display_name, description, default_profile_image FROM accounts",
    ) == {
        (A, "alice.bsky.social", "アリス", "日本の政治", True),
        (B, "bob.bsky.social", None, None, None),
        (C, None, None, None, None),
        (D, None, None, None, None),  # only the takedown event and a quoted post name dave
    }


def test_rejects_carry_line_offset_and_reason(store: Store) -> None:
    ingest(store, EVENTS)
    got = store.sql("SELECT line, location, reason FROM rejects ORDER BY line")
    assert [(line, loc) for line, loc, _ in got] == [
        (13, "commit.record.createdAt"),
        (14, None),
        (15, "time_us"),
        (16, "did"),
        (17, None),
    ]
    reasons = [r for _, _, r in got]
    assert reasons[0] == "bad createdAt 'yesterday'"
    assert reasons[1].startswith("invalid JSON")
    assert reasons[2] == "not a Jetstream event: no 'time_us'"
    assert reasons[3] == "did is not a DID: 'did:plc:x/../evil'"
    assert "unexpected end of data" in reasons[4]
    # Offsets point at the start of the line.
    data = EVENTS.read_bytes()
    for offset, excerpt in store.sql("SELECT byte_offset, excerpt FROM rejects"):
        assert data[offset:].decode().startswith(excerpt[:40])


def test_cursor_is_the_largest_time_us_read(store: Store) -> None:
    ingest(store, EVENTS)
    # Line 16 is rejected but was read: the cursor is its time_us, T + 13 s.
    assert store.sql("SELECT cursor FROM sources") == [("1752116413000000",)]


def test_gzip_gives_the_same_rows(store: Store, tmp_path: Path) -> None:
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(EVENTS.read_bytes()))
    [info] = ingest(store, gz)
    assert (info.format, info.records, info.posts, info.rejected) == ("jetstream", 17, 4, 5)
    assert store.sql("SELECT cursor FROM sources") == [("1752116413000000",)]


def test_reingest_is_idempotent(store: Store, tmp_path: Path) -> None:
    ingest(store, EVENTS)
    before = {t_: store.count(t_) for t_ in ("posts", "accounts", "engagements", "post_refs")}
    [again] = ingest(store, EVENTS)
    assert again.skipped
    # The same events under another name and hash: read again, nothing new written.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(EVENTS.read_bytes() + b"\n")
    [info] = ingest(store, copy)
    assert not info.skipped and (info.posts, info.accounts, info.engagements) == (0, 0, 0)
    assert {t_: store.count(t_) for t_ in before} == before


def test_named_format_with_the_wrong_file_is_a_one_line_error(store: Store) -> None:
    with pytest.raises(FormatMismatchError) as err:
        ingest(store, FIXTURES / "x_v2" / "search_page.jsonl", format="jetstream")
    assert "\n" not in str(err.value)
    assert "is not Bluesky Jetstream JSON Lines" in str(err.value)


# -- facets: UTF-8 byte offsets and hostile ranges -----------------------------------------------
def _collect() -> tuple[Sink, dict[str, list]]:
    batches: dict[str, list] = {}
    sink = Sink(lambda table, batch: batches.setdefault(table, []).extend(batch.to_pylist()))
    return sink, batches


def test_facet_offsets_count_bytes_not_characters() -> None:
    text = "参院選 @たろう.bsky.social"
    # '参院選 ' is 3·3 + 1 = 10 bytes; the handle is 1 + 9 + 12 = 22 bytes.
    facets = [
        {
            "index": {"byteStart": 10, "byteEnd": 32},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:x"}],
        }
    ]
    sink, out = _collect()
    assert _facets("at://p", text, facets, sink) == []
    sink.flush()
    [mention] = out["post_mentions"]
    assert (mention["handle"], mention["mentioned_account_id"]) == (
        "たろう.bsky.social",
        "did:plc:x",
    )


_index = st.one_of(st.integers(-5, 60), st.none(), st.text(max_size=3), st.floats())
_feature = st.fixed_dictionaries(
    {
        "$type": st.sampled_from(
            [
                "app.bsky.richtext.facet#tag",
                "app.bsky.richtext.facet#link",
                "app.bsky.richtext.facet#mention",
                "x",
            ]
        ),
        "tag": st.one_of(st.text(max_size=5), st.integers()),
        "uri": st.one_of(st.text(max_size=5), st.none()),
        "did": st.one_of(st.text(max_size=5), st.none()),
    }
)
_facet = st.one_of(
    st.fixed_dictionaries(
        {
            "index": st.fixed_dictionaries({"byteStart": _index, "byteEnd": _index}),
            "features": st.one_of(st.lists(_feature, max_size=3), st.none()),
        }
    ),
    st.text(max_size=3),
    st.none(),
    st.integers(),
)


@given(text=st.text(max_size=20), facets=st.one_of(st.lists(_facet, max_size=5), st.text()))
def test_hostile_facets_never_raise(text: str, facets: object) -> None:
    sink, _ = _collect()
    links = _facets("at://p", text, facets, sink)
    assert all(isinstance(u, str) for u in links)
    sink.flush()
