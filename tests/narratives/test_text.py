"""Japanese-aware normalisation and tokenisation."""

from __future__ import annotations

import pytest

from fimiscope.narratives.text import clean, normalise, script_language, tokens


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # full-width Latin letters and digits fold to ASCII
        ("ＳＮＳで話題 ２０２５年", "snsで話題 2025年"),
        # half-width katakana folds (NFKC) and katakana folds to hiragana
        ("ｾﾝｷｮに行こう", "せんきょに行こう"),
        ("ヤバい", "やばい"),
        # emoji, variation selectors and ZWJ sequences are not wording
        ("制裁解除😡😡👨‍👩‍👧🗳️", "制裁解除"),
        # links (with and without scheme), mentions and the RT prefix go; a tag keeps its word
        (
            "RT @news_jp: 日本が制裁解除 https://t.co/AbC www.47news.jp/1.html @abc ＃参院選",
            "日本が制裁解除 参院選",
        ),
        # repeated punctuation, and ASCII ! ? become the Japanese full-width ones
        ("本当に!!!?", "本当に！？"),
        ("  Tokyo   LIFTS\nsanctions  ", "tokyo lifts sanctions"),
    ],
)
def test_normalise(a: str, b: str) -> None:
    assert normalise(a) == b


def test_kana_variants_and_width_compare_equal() -> None:
    assert normalise("ヤバい！選挙") == normalise("やばい!選挙") == normalise("ﾔﾊﾞい！選挙")


def test_empty_text_never_matches() -> None:
    assert normalise(None) == normalise("") == normalise("😂 https://t.co/x") == ""


def test_clean_keeps_kana_and_case_for_the_sentence_encoder() -> None:
    assert clean("RT @a: ヤバい Tokyo😂 https://x.jp/a") == "ヤバい Tokyo"


def test_japanese_nouns_by_fugashi() -> None:
    # UniDic splits 対露制裁解除 into its nouns; verbs, particles and auxiliaries are dropped
    assert tokens("日本が対露制裁の解除を開始したらしい😡 https://t.co/x", "ja") == [
        "日本",
        "対露",
        "制裁",
        "解除",
        "開始",
    ]
    # full-width letters are folded before tagging; a hashtag's word is kept
    assert "sns" in [t.lower() for t in tokens("ＳＮＳでは報じない #参院選", "ja")]
    assert "参院" in tokens("ＳＮＳでは報じない #参院選", "ja")


def test_english_and_russian_words_without_stop_words() -> None:
    assert tokens("So Japan is lifting sanctions on Russia now? @abc", "en") == [
        "japan",
        "lifting",
        "sanctions",
        "russia",
    ]
    assert tokens("Токио начал снимать санкции против России", "ru") == [
        "токио",
        "начал",
        "снимать",
        "санкции",
        "против",
        "россии",
    ]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("制裁を解除", "ja"),
        ("ニュース", "ja"),
        ("Токио снимает санкции", "ru"),
        ("Tokyo lifts sanctions", "en"),
        ("😂 123", "und"),
        (None, "und"),
    ],
)
def test_script_language(text: str | None, lang: str) -> None:
    assert script_language(text) == lang
