"""Normalisation: worked examples and properties (Hypothesis)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fimiscope.ingest.normalise import (
    fold_handle,
    fold_hashtag,
    normalise_text,
    normalise_text_array,
    normalise_url,
    parse_time,
    url_domain,
)

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


def test_width_folding_and_invisible_characters() -> None:
    assert normalise_text("ＦＩＭＩは　危険！") == "fimiは 危険!"
    assert normalise_text("ｶﾀｶﾅ") == "カタカナ"  # half-width kana to full width
    assert normalise_text("a\u200bb\u202ec\ufeff") == "abc"  # zero-width, RTL override, BOM
    assert normalise_text("") is None and normalise_text(" \u3000\n") is None


def test_hashtags_and_handles() -> None:
    assert fold_hashtag("＃参院選") == fold_hashtag("#参院選") == "参院選"
    assert fold_hashtag("#ＪＡＰＡＮ") == "japan"
    assert fold_hashtag("#") is None and fold_hashtag("") is None
    assert fold_handle("＠Sputnik_JP") == fold_handle("@sputnik_jp") == "sputnik_jp"


def test_urls() -> None:
    assert (
        normalise_url("https://www.asahi.com/articles/A1.html?utm_source=tw&fbclid=1#x")
        == "https://www.asahi.com/articles/A1.html"
    )
    assert normalise_url("HTTP://Example.com:80/a/") == "http://example.com/a"
    assert (
        normalise_url("https://mobile.twitter.com/u/status/1?s=20&t=zz")
        == "https://x.com/u/status/1"
    )
    assert normalise_url("https://t.co/abc") == "https://t.co/abc"  # short links kept, no network
    assert normalise_url("https://example.com/?b=2&a=1") == "https://example.com?a=1&b=2"
    assert normalise_url("nhk.or.jp/news") == "http://nhk.or.jp/news"
    for empty in ("", "   ", "javascript:alert(1)", "not a url", "mailto:a@b.c"):
        assert normalise_url(empty) is None
    assert url_domain("https://www.nhk.or.jp/x") == "nhk.or.jp"


def test_times_are_utc() -> None:
    assert parse_time("2025-07-10T03:04:05.000Z").isoformat() == "2025-07-10T03:04:05+00:00"
    assert parse_time("2025-07-10 12:04:05+09:00").isoformat() == "2025-07-10T03:04:05+00:00"
    assert parse_time(1752116400).isoformat() == "2025-07-10T03:00:00+00:00"
    assert parse_time(1752116400000).isoformat() == "2025-07-10T03:00:00+00:00"
    assert parse_time(1752116400000000).isoformat() == "2025-07-10T03:00:00+00:00"


@settings(max_examples=200, deadline=None)
@given(texts)
def test_text_normalisation_is_idempotent(s: str) -> None:
    once = normalise_text(s)
    assert normalise_text(once) == once
    if once is not None:
        assert once == once.strip() and "  " not in once


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, max_size=20))
def test_vectorised_equals_scalar(values: list[str]) -> None:
    got = normalise_text_array(pa.array(values, pa.string())).to_pylist()
    assert got == [normalise_text(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(texts)
def test_hashtag_folding_is_idempotent(s: str) -> None:
    folded = fold_hashtag(s)
    assert fold_hashtag(folded) == folded


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30))
def test_full_width_tags_fold_like_ascii(s: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in s)  # U+FF01..U+FF5E, as Japanese IMEs type
    assert fold_hashtag(wide) == fold_hashtag(s)
    assert fold_handle(wide) == fold_handle(s)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_url_normalisation_never_raises_and_is_idempotent(s: str) -> None:
    out = normalise_url(s)
    if out is not None:
        assert normalise_url(out) == out


_spacey = st.text(
    alphabet=st.sampled_from(
        [
            *"ab日 \t\n\r\f\v\x1c\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000",
            *("\u200b", "\u200e", "\u202e", "\ufeff", "Ａ", "ｶ"),
        ]
    ),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), _spacey, texts), max_size=20))
def test_text_array_only_rewrites_what_needs_it(values: list[str | None]) -> None:
    """Rewriting only the strings that need it gives what rewriting all of them gives."""
    from fimiscope.ingest.normalise import _normalise_text_plain

    arr = pa.array(values, pa.string())
    assert normalise_text_array(arr).to_pylist() == _normalise_text_plain(arr).to_pylist()
