"""Plan the outlet articles (RSS items) that news, state-media and claim posts link to."""

from __future__ import annotations

import random

from fimiscope.simulate import vocab
from fimiscope.simulate.config import Plan
from fimiscope.simulate.text import TextMaker, fill_url


def make_articles(plan: Plan, rng: random.Random) -> list[dict[str, object]]:
    """Plan the outlet articles (RSS items) that posts link to."""
    text = TextMaker(rng)
    arts: list[dict[str, object]] = []
    outlets = [s for s in vocab.NEWS_SITES]
    x_actions = plan.platforms[0].actions
    n_news = min(6000, max(20, round(plan.config.news_share * x_actions * 0.85)))
    span = plan.end - plan.start
    for j in range(n_news):
        pub = plan.start + (span * (j + rng.random() * 0.5) // n_news)
        wire = rng.random() < 0.1
        o = 5 if wire else rng.randrange(5)
        title = text.headline(rng.choice(vocab.WIRE_TITLES if wire else vocab.NEWS_TITLES))
        link = fill_url(outlets[o][0], rng)
        copies = rng.randint(3, 5) if wire else 1
        for c in range(copies):
            arts.append(
                {
                    "kind": "wire" if wire else "news",
                    "outlet": outlets[o if c == 0 else c - 1][1],
                    "outlet_no": o if c == 0 else c - 1,
                    "lang": "ja",
                    "title": title,
                    "link": link,
                    "pub_ms": pub + c * rng.randint(60_000, 600_000),
                    "description": title + "。詳しくはリンク先で。",
                }
            )
    n_state = max(10, round(plan.config.state_share * x_actions * 0.2))
    for j in range(n_state):
        ru = rng.random() < 0.35
        tmpl = rng.choice(vocab.STATE_RU if ru else vocab.STATE_JA)
        link = fill_url(rng.choice(vocab.STATE_SITES[2:] if ru else vocab.STATE_SITES[:2]), rng)
        pub = plan.start + int(span * (j + rng.random()) / n_state)
        arts.append(
            {
                "kind": "state",
                "outlet": "RT" if ru else "スプートニク日本",
                "outlet_no": -1,
                "lang": "ru" if ru else "ja",
                "title": text.headline(tmpl),
                "link": link,
                "pub_ms": pub,
                "description": text.headline(tmpl),
            }
        )
    arts.append(
        {
            "kind": "interview",
            "outlet": "スプートニク日本",
            "outlet_no": -1,
            "lang": "ja",
            "title": text.headline(vocab.INTERVIEW_JA),
            "pub_ms": plan.interview_at - 600_000,
            "link": "https://sputniknews.jp/20250709/interview-sangiin-19876543.html",
            "description": "参院選の候補者が対露関係と制裁について語った。",
        }
    )
    for j, (outlet, link, lang, title) in enumerate(
        (
            (
                "Sputnik",
                "https://ria-sputnik.ru/20250714/sanktsii-yaponiya-1987654.html",
                "ru",
                vocab.CLAIM["ru"][0],
            ),
            (
                "RT",
                "https://russian.rt.com/world/news/1498765-yaponiya-sanktsii",
                "ru",
                vocab.CLAIM["ru"][1],
            ),
            (
                "スプートニク日本",
                "https://sputniknews.jp/20250714/sanctions-19901234.html",
                "ja",
                "日本が対露制裁の解除を開始 関係筋",
            ),
        )
    ):
        arts.append(
            {
                "kind": "claim",
                "outlet": outlet,
                "outlet_no": -1,
                "lang": lang,
                "title": title,
                "link": link,
                "pub_ms": plan.claim_start + j * 40 * 60_000,
                "description": title + (". Подробности в материале." if lang == "ru" else "。"),
            }
        )
    return arts
