"""Turn an event row into text parts (shared by the X and Bluesky writers)."""

from __future__ import annotations

from fimiscope.simulate import vocab
from fimiscope.simulate.events import (
    QUOTE,
    R_ALERT,
    R_CLAIM_BOT,
    R_CLAIM_ORG,
    R_CLAIM_STATE,
    R_COPYPASTA,
    R_IDOL,
    R_INTERVIEW,
    R_INTERVIEW_AMP,
    R_INTERVIEW_ORG,
    R_NEWS,
    R_STATE_NEWS,
)
from fimiscope.simulate.text import Part, TextMaker

_CLAIM_ROLES = (R_CLAIM_BOT, R_CLAIM_ORG, R_CLAIM_STATE)


class PartsMaker:
    """Compose the parts of a post for a row's role, narrative and language."""

    def __init__(
        self, text: TextMaker, articles: list[dict[str, object]], note_share: float
    ) -> None:
        self.text = text
        self.articles = articles
        self.note_share = note_share
        self.copypasta: dict[int, str] = {}

    def parts(
        self, role: int, kind: int, narr: int, lang: int, arg: int
    ) -> tuple[list[Part], bool]:
        """Return (parts, is_long) for one post."""
        t = self.text
        rng = t.rng
        if role == R_COPYPASTA:
            base = self.copypasta.get(arg)
            if base is None:
                base = self.copypasta[arg] = t.copypasta_base(arg)
            return t.copypasta(base), False
        if role in _CLAIM_ROLES:
            if role == R_CLAIM_STATE:
                art = self.articles[arg]
                return [("t", str(art["title"]) + ". "), ("u", str(art["link"]))], False
            return t.claim(lang, bot=role == R_CLAIM_BOT), False
        if role in (R_NEWS, R_STATE_NEWS, R_INTERVIEW):
            art = self.articles[arg]
            parts: list[Part] = [("t", str(art["title"]) + " ")]
            if role == R_NEWS and rng.random() < 0.4:
                parts += [t.hashtag("参院選"), ("t", " ")]
            if role == R_STATE_NEWS and rng.random() < 0.3:
                parts += [("t", rng.choice(("👉 ", "➡️ ", "")))]
            return [*parts, ("u", str(art["link"]))], False
        if role == R_ALERT:
            return [("t", t.fill(vocab.ALERT_JA)), ("t", " "), t.hashtag("地震")], False
        if role in (R_INTERVIEW_AMP, R_INTERVIEW_ORG) and kind == QUOTE:
            if role == R_INTERVIEW_AMP:
                return t.quote_comment(), False
            return t.organic(narr, lang), False
        if role == R_IDOL:
            return [
                (
                    "t",
                    t.fill(
                        rng.choice(
                            (
                                "新曲「夏の約束」MV公開しました！見てね{feel}",
                                "今夜21時から配信します🎤",
                                "{place}公演ありがとう！{feel}",
                                "7/18リリースまであと少し✨",
                                "{day}のオフショット📸",
                            )
                        )
                    ),
                )
            ], False
        long = lang == 0 and rng.random() < self.note_share
        return t.organic(narr, lang, long=long), long
