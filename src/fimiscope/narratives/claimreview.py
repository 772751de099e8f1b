"""Reading fact-checks: schema.org ClaimReview (JSON-LD) and a simple claims CSV.

ClaimReview documents come as fact-checkers publish them: one object, an array, a ``@graph``,
objects nested in a page's ``mainEntity``/``review``, JSON Lines, or ``<script
type="application/ld+json">`` blocks inside an HTML page. Fields are often missing or typed
loosely (a rating as text, a language as an object, an author as a list); what cannot be read
is reported, never guessed. Ratings are mapped to a verdict from the rating text -- Japanese
(``誤り``, ``不正確``, ``ミスリード``, ``根拠不明``, ``正確`` ...), English and Russian words --
and,
failing that, from the numeric ``ratingValue`` on its ``worstRating``-``bestRating`` scale.

References
----------
.. [1] schema.org ClaimReview, https://schema.org/ClaimReview ; Google's fact-check markup
   guidelines.
.. [2] 日本ファクトチェックセンター (JFC) rating scale: 正確, ほぼ正確, 不正確, ミスリード,
   根拠不明, 誤り.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from fimiscope.errors import IngestError
from fimiscope.ingest.normalise import parse_time
from fimiscope.narratives.text import script_language

VERDICTS = ("false", "misleading", "unproven", "true", "other")
FALSE_VERDICTS = frozenset({"false", "misleading"})

# Checked in order, as substrings of the folded rating text: longer and negated phrases first
# ("不正確" before "正確", "mostly false" before "false", "not true" before "true").
_RATING_WORDS: tuple[tuple[str, str], ...] = (
    ("ほぼ正確", "true"),
    ("不正確", "misleading"),
    ("ミスリード", "misleading"),
    ("誤解を招く", "misleading"),
    ("一部誤り", "misleading"),
    ("ほぼ誤り", "misleading"),
    ("根拠不明", "unproven"),
    ("根拠なし", "unproven"),
    ("判定留保", "unproven"),
    ("事実誤認", "false"),
    ("誤り", "false"),
    ("虚偽", "false"),
    ("捏造", "false"),
    ("偽", "false"),
    ("デマ", "false"),
    ("正確", "true"),
    ("事実", "true"),
    ("mostly false", "misleading"),
    ("partly false", "misleading"),
    ("half true", "misleading"),
    ("half-true", "misleading"),
    ("missing context", "misleading"),
    ("misleading", "misleading"),
    ("out of context", "misleading"),
    ("exaggerat", "misleading"),
    ("mostly true", "true"),
    ("not true", "false"),
    ("pants on fire", "false"),
    ("false", "false"),
    ("fake", "false"),
    ("incorrect", "false"),
    ("fabricated", "false"),
    ("hoax", "false"),
    ("wrong", "false"),
    ("unproven", "unproven"),
    ("unsubstantiated", "unproven"),
    ("unverified", "unproven"),
    ("no evidence", "unproven"),
    ("true", "true"),
    ("correct", "true"),
    ("accurate", "true"),
    ("вводит в заблуждение", "misleading"),
    ("частично", "misleading"),
    ("полуправда", "misleading"),
    ("не подтвержд", "unproven"),
    ("нет доказательств", "unproven"),
    ("неправда", "false"),
    ("ложь", "false"),
    ("ложно", "false"),
    ("фейк", "false"),
    ("неверно", "false"),
    ("правда", "true"),
    ("верно", "true"),
)


def verdict_of(
    text: str | None,
    value: float | None = None,
    best: float | None = None,
    worst: float | None = None,
) -> str:
    """Verdict (one of :data:`VERDICTS`) from a rating's words, else from its number.

    >>> [verdict_of(t) for t in ("誤り", "不正確", "ミスリード", "根拠不明", "ほぼ正確",
    ...                          "Mostly False")]
    ['false', 'misleading', 'misleading', 'unproven', 'true', 'misleading']
    >>> verdict_of(None, 1, 5, 1), verdict_of("", 5, 5, 1), verdict_of("?")
    ('false', 'true', 'other')
    """
    if text:
        folded = unicodedata.normalize("NFKC", text).lower().strip()
        for word, verdict in _RATING_WORDS:
            if word in folded:
                return verdict
    if value is not None:
        hi = 5.0 if best is None else best
        lo = 1.0 if worst is None else worst
        if hi != lo:
            frac = (value - lo) / (hi - lo)
            if frac <= 0.2:
                return "false"
            if frac <= 0.45:
                return "misleading"
            if frac >= 0.8:
                return "true"
    return "other"


@dataclass
class Claim:
    """One fact-checked claim, as stored in the ``claims`` table."""

    text: str
    lang: str | None = None
    verdict: str = "other"
    rating_text: str | None = None
    rating_value: float | None = None
    best_rating: float | None = None
    worst_rating: float | None = None
    reviewer: str | None = None
    review_url: str | None = None
    review_date: datetime | None = None
    claimant: str | None = None
    claim_date: datetime | None = None
    appearances: list[str] = field(default_factory=list)

    @property
    def claim_id(self) -> str:
        key = f"{self.review_url or ''}\n{unicodedata.normalize('NFKC', self.text).strip()}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def is_false(self) -> bool:
        return self.verdict in FALSE_VERDICTS


@dataclass
class ParseReport:
    """Claims read from a file, and what could not be read (``where``, ``reason``)."""

    claims: list[Claim]
    rejected: list[dict[str, str]]


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    items = t if isinstance(t, list) else [t]
    return {str(x).rsplit("/", 1)[-1] for x in items if x}


def _walk(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ClaimReview object anywhere in a JSON-LD value, with its path."""
    if isinstance(value, dict):
        if "ClaimReview" in _types(value):
            yield where, value
            return
        for k, v in value.items():
            if isinstance(v, dict | list):
                yield from _walk(v, f"{where}.{k}" if where else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]")


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _name(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName") or value.get("url")
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _lang(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    if not value:
        return None
    return str(value).strip().split("-")[0].lower() or None


def _number(value: Any) -> float | None:
    value = _first(value)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _date(value: Any) -> datetime | None:
    value = _first(value)
    if not value:
        return None
    try:
        return parse_time(str(value))
    except ValueError:
        return None


def _urls(*values: Any) -> list[str]:
    out: list[str] = []
    for value in values:
        for v in value if isinstance(value, list) else [value]:
            u = v.get("url") if isinstance(v, dict) else v
            if isinstance(u, str) and u.strip() and u.strip() not in out:
                out.append(u.strip())
    return out


def claim_from_review(obj: dict[str, Any]) -> Claim:
    """One :class:`Claim` from a ClaimReview object; ``ValueError`` without a claim text."""
    item = _first(obj.get("itemReviewed"))
    item = item if isinstance(item, dict) else {}
    text = obj.get("claimReviewed") or item.get("name") or item.get("text")
    text = _first(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no claim text (claimReviewed, itemReviewed.name)")
    rating = _first(obj.get("reviewRating"))
    rating = rating if isinstance(rating, dict) else {}
    rating_text = _name({"name": rating.get("alternateName") or rating.get("name")})
    value = _number(rating.get("ratingValue"))
    if rating_text is None and rating.get("ratingValue") is not None and value is None:
        rating_text = str(rating.get("ratingValue"))  # a rating written as a word
    best, worst = _number(rating.get("bestRating")), _number(rating.get("worstRating"))
    text = " ".join(text.split())
    return Claim(
        text=text,
        lang=_lang(obj.get("inLanguage")) or script_language(text),
        verdict=verdict_of(rating_text, value, best, worst),
        rating_text=rating_text,
        rating_value=value,
        best_rating=best,
        worst_rating=worst,
        reviewer=_name(obj.get("author")),
        review_url=_name({"name": obj.get("url")}),
        review_date=_date(obj.get("datePublished")),
        claimant=_name(item.get("author")),
        claim_date=_date(item.get("datePublished")),
        appearances=_urls(item.get("firstAppearance"), item.get("appearance")),
    )


_SCRIPT = re.compile(
    r"<script[^>]*type\s*=\s*[\"']application/ld\+json[\"'][^>]*>(.*?)</script>",
    re.IGNORECASE | re.DOTALL,
)


def _documents(data: bytes, path: Path) -> Iterator[tuple[str, Any]]:
    text = data.decode("utf-8-sig", "replace")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        for i, block in enumerate(_SCRIPT.findall(text)):
            try:
                yield f"script[{i}]", orjson.loads(block.strip())
            except orjson.JSONDecodeError as exc:
                yield f"script[{i}]", ValueError(f"not JSON ({exc})")
        return
    try:
        yield "", orjson.loads(stripped)
        return
    except orjson.JSONDecodeError as whole:
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise IngestError(path, f"not JSON-LD ({whole})") from whole
    for n, line in enumerate(lines, 1):
        try:
            yield f"line {n}", orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield f"line {n}", ValueError(f"not JSON ({exc})")


def parse_claimreview(path: str | Path) -> ParseReport:
    """Read every ClaimReview in a JSON-LD, JSON Lines or HTML file.

    Raises
    ------
    IngestError
        When the file cannot be read or is neither JSON nor HTML.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, f"cannot read the file ({exc})") from exc
    claims: list[Claim] = []
    rejected: list[dict[str, str]] = []
    for where, doc in _documents(data, path):
        if isinstance(doc, ValueError):
            rejected.append({"where": where, "reason": str(doc)})
            continue
        for inner, obj in _walk(doc, where):
            try:
                claims.append(claim_from_review(obj))
            except ValueError as exc:
                rejected.append({"where": inner or "$", "reason": str(exc)})
    return ParseReport(claims, rejected)


_CSV_COLUMNS = {
    "text": ("text", "claim", "claimreviewed", "claim_text"),
    "lang": ("lang", "language", "inlanguage"),
    "rating": ("rating", "verdict", "rating_text", "label"),
    "url": ("url", "review_url", "factcheck_url"),
    "reviewer": ("reviewer", "author", "factchecker"),
    "review_date": ("review_date", "date", "datepublished"),
    "claimant": ("claimant",),
    "claim_date": ("claim_date",),
    "appearance": ("appearance", "appearances", "source_url"),
}


def parse_claims_csv(path: str | Path) -> ParseReport:
    """Read a claims CSV: a header with at least ``text`` (or ``claim``); see docs/narratives.md.

    Raises
    ------
    IngestError
        When the file has no text column.
    """
    path = Path(path)
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(path, f"cannot read the file as UTF-8 ({exc})") from exc
    reader = csv.DictReader(io.StringIO(raw))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    cols = {
        k: next((header[a] for a in alts if a in header), None) for k, alts in _CSV_COLUMNS.items()
    }
    if cols["text"] is None:
        raise IngestError(path, "a claims CSV needs a 'text' (or 'claim') column")
    claims: list[Claim] = []
    rejected: list[dict[str, str]] = []
    for n, row in enumerate(reader, 2):

        def get(key: str, row: dict[str, Any] = row) -> str | None:
            col = cols[key]
            v = row.get(col) if col else None
            return v.strip() if isinstance(v, str) and v.strip() else None

        text = get("text")
        if text is None:
            rejected.append({"where": f"line {n}", "reason": "empty claim text"})
            continue
        rating = get("rating")
        claims.append(
            Claim(
                text=" ".join(text.split()),
                lang=(get("lang") or script_language(text)).lower(),
                verdict=verdict_of(rating),
                rating_text=rating,
                reviewer=get("reviewer"),
                review_url=get("url"),
                review_date=_date(get("review_date")),
                claimant=get("claimant"),
                claim_date=_date(get("claim_date")),
                appearances=_urls(get("appearance")),
            )
        )
    return ParseReport(claims, rejected)
