"""ClaimReview JSON-LD and claims CSV as fact-checkers publish them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fimiscope.errors import IngestError
from fimiscope.narratives import list_claims, load_claims
from fimiscope.narratives.claimreview import parse_claimreview, parse_claims_csv, verdict_of

# A JFC-style review (as in the scenario), a Google-guideline review with the rating only as
# text, and a review nested in a WebPage's @graph with a language object and author list.
JFC = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "url": "https://www.factcheckcenter.jp/fact-check/politics/sanctions/",
    "claimReviewed": "日本が対露制裁の解除を開始した",
    "author": {"@type": "Organization", "name": "日本ファクトチェックセンター (JFC)"},
    "datePublished": "2025-07-15",
    "inLanguage": "ja",
    "itemReviewed": {
        "@type": "Claim",
        "author": {"@type": "Organization", "name": "Sputnik"},
        "datePublished": "2025-07-14",
        "appearance": [{"@type": "CreativeWork", "url": "https://ria-sputnik.ru/a.html"}],
        "firstAppearance": {"@type": "CreativeWork", "url": "https://ria-sputnik.ru/a.html"},
    },
    "reviewRating": {
        "@type": "Rating",
        "ratingValue": 1,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "誤り",
    },
}
TEXT_RATING = {
    "@context": "http://schema.org",
    "@type": ["ClaimReview"],
    "url": "https://factcheck.example.org/2025/07/pencils",
    "claimReviewed": "Ballots filled in with pencil get rewritten",
    "author": [{"@type": "Organization", "name": "Example Check"}],
    "datePublished": "2025-07-10T09:00:00+09:00",
    "reviewRating": {"@type": "Rating", "ratingValue": "Mostly False"},
}
GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "name": "ファクトチェック一覧"},
        {
            "@type": "WebPage",
            "mainEntity": {
                "@type": "ClaimReview",
                "url": "https://www.factcheckcenter.jp/fact-check/welfare/",
                "claimReviewed": "外国人の生活保護受給者が急増している",
                "inLanguage": {"@type": "Language", "name": "Japanese", "alternateName": "ja"},
                "reviewRating": {"@type": "Rating", "alternateName": "不正確"},
            },
        },
        {
            "@type": "ClaimReview",
            "url": "https://x.example/no-claim",
            "reviewRating": {"alternateName": "誤り"},
        },
        {
            "@type": "ClaimReview",
            "url": "https://x.example/misleading",
            "claimReviewed": "消費税の廃止が決定した",
            "itemReviewed": {"@type": "Claim"},
            "reviewRating": {"alternateName": "ミスリード"},
        },
        {
            "@type": "ClaimReview",
            "url": "https://x.example/unfounded",
            "claimReviewed": "投票所で鉛筆が回収されている",
            "reviewRating": {"alternateName": "根拠不明", "ratingValue": "2"},
        },
    ],
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_array_of_reviews(tmp_path: Path) -> None:
    r = parse_claimreview(_write(tmp_path, "a.jsonld", orjson.dumps([JFC, TEXT_RATING])))
    assert r.rejected == []
    jfc, text = r.claims
    assert (jfc.text, jfc.lang, jfc.verdict, jfc.rating_text, jfc.rating_value) == (
        "日本が対露制裁の解除を開始した",
        "ja",
        "false",
        "誤り",
        1.0,
    )
    assert jfc.reviewer == "日本ファクトチェックセンター (JFC)" and jfc.claimant == "Sputnik"
    assert jfc.appearances == ["https://ria-sputnik.ru/a.html"]
    assert jfc.claim_date is not None and jfc.claim_date.isoformat().startswith("2025-07-14")
    # the rating is a word in ratingValue: kept as text, no number invented
    assert (text.verdict, text.rating_text, text.rating_value) == (
        "misleading",
        "Mostly False",
        None,
    )
    assert text.lang == "en" and text.reviewer == "Example Check"
    assert text.review_date is not None and text.review_date.hour == 0  # 09:00+09:00 in UTC


def test_graph_nested_missing_fields_and_japanese_ratings(tmp_path: Path) -> None:
    r = parse_claimreview(_write(tmp_path, "g.json", orjson.dumps(GRAPH)))
    assert [(c.text, c.verdict) for c in r.claims] == [
        ("外国人の生活保護受給者が急増している", "misleading"),  # 不正確
        ("消費税の廃止が決定した", "misleading"),  # ミスリード
        ("投票所で鉛筆が回収されている", "unproven"),  # 根拠不明 wins over the number
    ]
    assert r.claims[0].lang == "ja"
    assert r.rejected == [
        {"where": "@graph[2]", "reason": "no claim text (claimReviewed, itemReviewed.name)"}
    ]


def test_html_page_with_json_ld_scripts(tmp_path: Path) -> None:
    page = (
        "<html><head><script type='application/ld+json'>"
        + orjson.dumps(JFC).decode()
        + '</script><script type="application/ld+json">{not json</script></head></html>'
    )
    r = parse_claimreview(_write(tmp_path, "p.html", page.encode()))
    assert [c.verdict for c in r.claims] == ["false"]
    assert r.rejected[0]["where"] == "script[1]"


def test_json_lines_and_bad_files(tmp_path: Path) -> None:
    lines = orjson.dumps(JFC) + b"\n" + orjson.dumps(TEXT_RATING) + b"\n{oops\n"
    r = parse_claimreview(_write(tmp_path, "l.jsonl", lines))
    assert len(r.claims) == 2 and r.rejected[0]["where"] == "line 3"
    with pytest.raises(IngestError):
        parse_claimreview(_write(tmp_path, "bad.json", b"{oops"))


@pytest.mark.parametrize(
    ("rating", "verdict"),
    [
        ("誤り", "false"),
        ("不正確", "misleading"),
        ("ミスリード", "misleading"),
        ("根拠不明", "unproven"),
        ("正確", "true"),
        ("ほぼ正確", "true"),
        ("False", "false"),
        ("Pants on Fire!", "false"),
        ("Half True", "misleading"),
        ("Not true", "false"),
        ("Ложь", "false"),
        ("Неправда", "false"),
        ("Вводит в заблуждение", "misleading"),
        ("???", "other"),
    ],
)
def test_rating_words(rating: str, verdict: str) -> None:
    assert verdict_of(rating) == verdict


def test_numeric_rating_on_its_scale() -> None:
    assert verdict_of(None, 1, 5, 1) == "false"
    assert verdict_of(None, 2, 5, 1) == "misleading"
    assert verdict_of(None, 5, 5, 1) == "true"
    assert verdict_of(None, 0, 10, 0) == "false"
    assert verdict_of(None, 3, 3, 3) == "other"  # a degenerate scale says nothing


def test_claims_csv(tmp_path: Path) -> None:
    csv = (
        "\ufeffClaim,Rating,Lang,URL,Date\n"
        "日本が対露制裁の解除を開始した,誤り,ja,https://f.example/1,2025-07-15\n"
        '"Japan lifts sanctions, says Sputnik",False,,https://f.example/2,\n'
        ",誤り,ja,,\n"
    )
    r = parse_claims_csv(_write(tmp_path, "c.csv", csv.encode()))
    assert [(c.text, c.verdict, c.lang) for c in r.claims] == [
        ("日本が対露制裁の解除を開始した", "false", "ja"),
        ("Japan lifts sanctions, says Sputnik", "false", "en"),
    ]
    assert r.rejected == [{"where": "line 4", "reason": "empty claim text"}]
    with pytest.raises(IngestError):
        parse_claims_csv(_write(tmp_path, "n.csv", b"foo,bar\n1,2\n"))


def test_load_claims_twice_replaces(store, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.jsonld", orjson.dumps([JFC, TEXT_RATING, JFC]))
    first = load_claims(store, path)
    again = load_claims(store, path)
    # "Mostly False" is misleading: known-false too
    assert first["loaded"] == again["loaded"] == 2 and first["false_claims"] == 2
    rows = list_claims(store)
    assert len(rows) == 2 and rows[0]["is_false"] and rows[0]["rating_text"] == "誤り"
    assert rows[0]["appearances"] == ["https://ria-sputnik.ru/a.html"]
