"""Write schema.org ClaimReview objects as fact-checkers publish them (JSON-LD array)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from fimiscope.simulate.config import DAY_MS
from fimiscope.simulate.ids import iso_ms

FACTCHECK_URL = (
    "https://www.factcheckcenter.jp/fact-check/politics/japan-russia-sanctions-lifting-false/"
)
_ORG = {
    "@type": "Organization",
    "name": "日本ファクトチェックセンター (JFC)",
    "url": "https://www.factcheckcenter.jp/",
}


def _review(
    url: str,
    claim: str,
    published: int,
    claim_date: int,
    appearance: str,
    rating: int,
    name: str,
    claimant: str,
) -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": claim,
        "author": _ORG,
        "datePublished": iso_ms(published)[:10],
        "inLanguage": "ja",
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Organization", "name": claimant},
            "datePublished": iso_ms(claim_date)[:10],
            "appearance": [{"@type": "CreativeWork", "url": appearance}],
            "firstAppearance": {"@type": "CreativeWork", "url": appearance},
        },
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": rating,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": name,
        },
    }


def write_claimreviews(
    path: Path, claim_ms: int, factcheck_ms: int, first_url: str
) -> list[dict[str, Any]]:
    """Write the refutation of the sanctions claim plus unrelated reviews; return them."""
    reviews = [
        _review(
            FACTCHECK_URL,
            "日本が対露制裁の解除を開始した",
            factcheck_ms,
            claim_ms,
            first_url,
            1,
            "誤り",
            "Sputnik",
        ),
        _review(
            "https://www.factcheckcenter.jp/fact-check/politics/pencil-ballot-rewrite/",
            "投票用紙に鉛筆で書くと書き換えられる",
            claim_ms - 5 * DAY_MS,
            claim_ms - 9 * DAY_MS,
            "https://x.com/i/web/status/1941000000000000000",
            1,
            "誤り",
            "SNS上の投稿",
        ),
        _review(
            "https://www.factcheckcenter.jp/fact-check/politics/early-voting-record/",
            "期日前投票の投票者数が前回を上回った",
            claim_ms + 2 * DAY_MS,
            claim_ms + DAY_MS,
            "https://www3.nhk.or.jp/news/html/20250715/k10014860000.html",
            5,
            "正確",
            "報道",
        ),
        _review(
            "https://www.factcheckcenter.jp/fact-check/society/foreign-welfare-surge/",
            "外国人の生活保護受給者が急増している",
            claim_ms - 2 * DAY_MS,
            claim_ms - 4 * DAY_MS,
            "https://x.com/i/web/status/1942000000000000000",
            2,
            "不正確",
            "SNS上の投稿",
        ),
        _review(
            "https://www.factcheckcenter.jp/fact-check/politics/consumption-tax-abolished/",
            "消費税の廃止が決定した",
            claim_ms + 3 * DAY_MS,
            claim_ms + 2 * DAY_MS,
            "https://x.com/i/web/status/1945000000000000000",
            3,
            "根拠不明",
            "SNS上の投稿",
        ),
    ]
    path.write_bytes(orjson.dumps(reviews, option=orjson.OPT_INDENT_2))
    return reviews
