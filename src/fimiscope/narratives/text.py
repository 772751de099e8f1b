"""Text for narratives: normalisation for embedding, script-based language, keyword tokens.

Normalisation (:func:`normalise`) makes the copies of one message that people and bots
produce compare equal: NFKC folds full-width letters, digits and half-width kana; katakana
is folded to hiragana (``ヤバい`` and ``やばい``); links, @mentions, the ``RT @x:`` prefix,
emoji and other pictographs are removed; the hashtag sign goes but its word stays
(``＃参院選`` -> ``参院選``); case and whitespace are folded. Keywords are taken from the raw
text instead (:func:`tokens`): Japanese nouns by fugashi with the packaged UniDic-lite
dictionary, English and Russian words by a Unicode-aware word pattern minus stop words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from fimiscope.errors import MissingDependencyError

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_RT = re.compile(r"^\s*rt\s+@\w+:?\s*", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@[\w.]+")
_TAGSIGN = re.compile(r"(?<!\w)#(?=\w)")
_SPACES = re.compile(r"\s+")
_REPEAT = re.compile(r"([!?！？。、.,~〜ー…])\1+")
_KATA_TO_HIRA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the a an and or but if of to in on at by for with from as is are was were be been "
        "being it its this that these those there here so not no do does did have has had "
        "will would can could should may might must just now then than too very what which "
        "who whom why how all any some more most such only own same our your their they them "
        "we you he she his her him i me my about into over after before again once also tbh "
        "imo lol honestly really still even ever get got going like one"
    ),
    "ru": _words(
        "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по "
        "только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если "
        "уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей "
        "может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз "
        "тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом "
        "один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец "
        "два об другой хоть после над больше тот через эти нас про всего них какая много "
        "разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой "
        "им более всегда конечно всю между"
    ),
    "ja": _words(
        "こと もの ため よう これ それ あれ どれ ここ そこ さん ところ とき 感じ 自分 今日 "
        "本当 ほんと みんな 皆 何 人 方 時 事 物 中 今 後 前 的 等"
    ),
}


def fold_kana(text: str) -> str:
    """Katakana to hiragana (the long-vowel mark ``ー`` stays).

    >>> fold_kana("ヤバいセンキョ")
    'やばいせんきょ'
    """
    return text.translate(_KATA_TO_HIRA)


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    # Symbols (So: emoji, pictographs, Sk: modifiers), format characters (ZWJ, variation
    # selectors) and private-use code points carry no wording.
    return not (cat in ("So", "Sk", "Cf", "Co", "Cs", "Mn") and ch not in "゙゚")


def clean(text: str | None) -> str:
    """NFKC, without links, mentions, the ``RT`` prefix, hashtag signs, emoji; spaces folded.

    Kana and case are kept: this is the form a sentence encoder reads.

    >>> clean("RT @a: 日本が制裁解除😡 https://t.co/x #参院選")
    '日本が制裁解除 参院選'
    """
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text)
    s = _URL.sub(" ", s)
    s = _RT.sub("", s)
    s = _MENTION.sub(" ", s)
    s = _TAGSIGN.sub("", s)
    s = "".join(ch for ch in s if _keep(ch))
    return _SPACES.sub(" ", s).strip()


def normalise(text: str | None) -> str:
    """Text as it is embedded: see the module docstring. Empty input gives ``""``.

    Examples
    --------
    >>> normalise("ＲＴ @abc: 日本が制裁解除😡😡 https://t.co/x ＃参院選")
    '日本が制裁解除 参院選'
    >>> normalise("ヤバい!!!") == normalise("やばい！")
    True
    """
    s = fold_kana(clean(text).lower())
    s = _REPEAT.sub(r"\1", s)
    s = s.replace("!", "！").replace("?", "？") if _KANA.search(s) or _HAN.search(s) else s
    return _SPACES.sub(" ", s).strip()


def script_language(text: str | None) -> str:
    """``ja``, ``ru``, ``en`` or ``und`` from the characters used (kana or kanji -> ja).

    >>> [script_language(t) for t in ("制裁を解除", "Токио снимает", "Tokyo lifts", "123")]
    ['ja', 'ru', 'en', 'und']
    """
    if not text:
        return "und"
    if _KANA.search(text):
        return "ja"
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    han = len(_HAN.findall(text))
    if han and han >= cyr and han >= lat:
        return "ja"
    if cyr and cyr >= lat:
        return "ru"
    if lat:
        return "en"
    return "und"


@lru_cache(maxsize=1)
def _tagger() -> Any:
    try:
        import fugashi
    except ImportError as exc:
        raise MissingDependencyError("fugashi", "nlp") from exc
    try:
        import unidic_lite

        return fugashi.Tagger(f"-d {unidic_lite.DICDIR}")
    except ImportError:
        return fugashi.Tagger()


def japanese_nouns(text: str) -> list[str]:
    """Nouns of a Japanese text (common and proper nouns; no numbers, pronouns or suffixes).

    >>> japanese_nouns("日本が対露制裁の解除を開始したらしい")
    ['日本', '対露', '制裁', '解除', '開始']
    """
    out = []
    for word in _tagger()(unicodedata.normalize("NFKC", text)):
        f = word.feature
        if f.pos1 != "名詞" or f.pos2 not in ("普通名詞", "固有名詞"):
            continue
        s = word.surface
        if len(s) == 1 and not _HAN.match(s):
            continue
        if s in STOPWORDS["ja"]:
            continue
        out.append(s)
    return out


def tokens(text: str | None, lang: str | None = None) -> list[str]:
    """Keyword tokens of ``text``: Japanese nouns, or English/Russian words without stop words.

    Links, mentions and emoji are dropped first; hashtags count as words.

    >>> tokens("BREAKING: Tokyo quietly begins lifting Russia sanctions 🤔", "en")
    ['breaking', 'tokyo', 'quietly', 'begins', 'lifting', 'russia', 'sanctions']
    """
    if not text:
        return []
    s = unicodedata.normalize("NFKC", text)
    s = _MENTION.sub(" ", _RT.sub("", _URL.sub(" ", s)))
    s = "".join(ch for ch in s if _keep(ch))
    lang = lang if lang in ("ja", "en", "ru") else script_language(s)
    if lang == "ja":
        return japanese_nouns(_TAGSIGN.sub(" ", s))
    stop = STOPWORDS.get(lang, STOPWORDS["en"])
    return [w for w in (m.lower() for m in _WORD.findall(s)) if w not in stop]
