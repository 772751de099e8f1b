"""Compose varied post texts as lists of parts, so each writer can place its own entities.

A part is ``("t", text)``, ``("h", shown, tag)`` for a hashtag (``shown`` starts with ``#``
or the full-width ``＃``), ``("u", url)`` for a link, or ``("m", account_index)`` for a mention.
"""

from __future__ import annotations

import random
from typing import Any

from fimiscope.simulate import vocab

NARRATIVES: tuple[str, ...] = (
    "organic_misc",
    "prices",
    "tax",
    "foreigners",
    "pension",
    "birthrate",
    "gov_criticism",
    "get_out_vote",
    "idol_fandom",
    "breaking_quake",
    "news_headlines",
    "state_media_news",
    "candidate_interview",
    "sanctions_claim",
    "english_election",
)
N_ID = {name: i for i, name in enumerate(NARRATIVES)}
LABELS = {
    "organic_misc": "Everyday chatter unrelated to the election",
    "prices": "Rising prices (物価高)",
    "tax": "Tax cuts and the consumption tax (減税・消費税)",
    "foreigners": "Policy on foreign residents (外国人政策)",
    "pension": "Pensions (年金)",
    "birthrate": "Birth rate and child support (少子化)",
    "gov_criticism": "Criticism of the government",
    "get_out_vote": "Get out the vote (#選挙に行こう)",
    "idol_fandom": "Fans of an idol",
    "breaking_quake": "Earthquake alert",
    "news_headlines": "Automatic news headlines",
    "state_media_news": "Russian state-media stories",
    "candidate_interview": "State-media interview with a candidate",
    "sanctions_claim": "False claim: Japan has started lifting sanctions on Russia",
    "english_election": "English-language commentary on the election",
}
LANGS = ("ja", "en", "ru")
Part = tuple[Any, ...]
_FULL = str.maketrans("0123456789%!?", "０１２３４５６７８９％！？")
_KANA = (
    ("本当", "ほんと"),
    ("選挙", "せんきょ"),
    ("政治", "せいじ"),
    ("大丈夫", "だいじょうぶ"),
    ("ください", "下さい"),
    ("わかる", "分かる"),
    ("すごい", "凄い"),
    ("やばい", "ヤバい"),
)


class _Picker(dict[str, str]):
    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        return self.rng.choice(vocab.SLOTS[key])


def fill_url(template: str, rng: random.Random) -> str:
    """Fill ``{dd}``, ``{n3}``, ``{n4}``, ``{n6}`` in a URL template with random digits."""
    return template.format(
        dd=f"{rng.randint(1, 20):02d}",
        n3=f"{rng.randint(0, 999):03d}",
        n4=f"{rng.randint(0, 9999):04d}",
        n6=f"{rng.randint(0, 999999):06d}",
    )


class TextMaker:
    """Random text composer; one instance per platform stream, seeded.

    Examples
    --------
    >>> parts = TextMaker(random.Random(1)).organic(N_ID["prices"], 0)
    >>> any(p[0] == "t" for p in parts)
    True
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.picker = _Picker(rng)

    def fill(self, frame: str) -> str:
        """Fill the ``{slot}`` fields of ``frame``."""
        return frame.format_map(self.picker)

    def hashtag(self, tag: str) -> Part:
        """Return a hashtag part, sometimes with the full-width sign."""
        return ("h", ("＃" if self.rng.random() < 0.15 else "#") + tag, tag)

    def news_url(self) -> str:
        """Return a Japanese news-site URL, sometimes with tracking parameters."""
        url = fill_url(self.rng.choice(vocab.NEWS_SITES)[0], self.rng)
        r = self.rng.random()
        if r < 0.15:
            url += "?utm_source=twitter&utm_medium=social&utm_campaign=sangiin2025"
        elif r < 0.2:
            url += "?s=20"
        return url

    def _vary(self, text: str) -> str:
        r = self.rng.random()
        if r < 0.08:
            text = text.translate(_FULL)
        elif r < 0.2:
            a, b = self.rng.choice(_KANA)
            text = text.replace(a, b)
        return text

    def organic(self, narrative: int, lang: int, *, long: bool = False) -> list[Part]:
        """Compose an ordinary user's post on ``narrative`` in ``LANGS[lang]``."""
        rng = self.rng
        name = NARRATIVES[narrative]
        code = LANGS[lang]
        frames = vocab.FRAMES.get(name, vocab.FRAMES["organic_misc"])
        pool = frames.get(code) or frames.get("ja") or vocab.FRAMES["organic_misc"]["ja"]
        n = rng.randint(5, 8) if long else rng.choice((1, 1, 2, 2, 3))
        sep = " " if code == "en" else rng.choice(("", "", " ", "\n"))
        text = sep.join(self.fill(rng.choice(pool)) for _ in range(n))
        if rng.random() < 0.4:
            e = rng.choice(vocab.EMOJI) * rng.choice((1, 1, 2, 3))
            text = e + text if rng.random() < 0.2 else text + e
        if code == "ja":
            text = self._vary(text)
        parts: list[Part] = [("t", text)]
        election = name not in ("organic_misc", "idol_fandom")
        if election and rng.random() < 0.3:
            tags = vocab.HASHTAGS_EN if code == "en" else vocab.HASHTAGS_JA
            for tag in rng.sample(tags, rng.choice((1, 1, 2))):
                parts += [("t", " "), self.hashtag(tag)]
        if name == "get_out_vote" and not any(p[0] == "h" for p in parts):
            parts += [("t", " "), self.hashtag("選挙に行こう")]
        if election and rng.random() < 0.12:
            parts += [("t", " "), ("u", self.news_url())]
        return parts

    def copypasta(self, base: str) -> list[Part]:
        """Return a lightly mutated copy of a shared bot text (emoji, a word, spacing, a tag)."""
        rng = self.rng
        text = base
        a, b = rng.choice(vocab.SYNONYMS)
        if rng.random() < 0.5:
            text = text.replace(a, b, 1)
        if rng.random() < 0.3:
            text = text.replace("。", "。 ", 1)
        if rng.random() < 0.7:
            text += rng.choice(vocab.EMOJI)
        parts: list[Part] = [("t", text)]
        if rng.random() < 0.6:
            parts += [("t", " "), self.hashtag(rng.choice(("参院選", "参院選2025", "政権交代")))]
        return parts

    def copypasta_base(self, index: int) -> str:
        """Return the filled base text of copy-paste campaign ``index``."""
        return self.fill(vocab.COPYPASTA_JA[index % len(vocab.COPYPASTA_JA)])

    def claim(self, lang: int, *, bot: bool) -> list[Part]:
        """Compose a post asserting the false sanctions claim."""
        rng = self.rng
        code = LANGS[lang]
        frames = vocab.CLAIM[code]
        text = self.fill(frames[0] if bot and rng.random() < 0.6 else rng.choice(frames))
        if code == "ja" and rng.random() < 0.5:
            text += rng.choice(vocab.EMOJI)
        parts: list[Part] = [("t", text)]
        if code != "ru" and rng.random() < 0.5:
            parts += [("t", " "), self.hashtag("参院選" if code == "ja" else "Japan")]
        return parts

    def quote_comment(self) -> list[Part]:
        """Return a short comment for a quote post of the state outlet."""
        rng = self.rng
        return [
            (
                "t",
                rng.choice(vocab.QUOTE_JA)
                + rng.choice(("", "！", "。", " " + rng.choice(vocab.EMOJI))),
            )
        ]

    def headline(self, template: str) -> str:
        """Fill a headline template."""
        return self.fill(template)
