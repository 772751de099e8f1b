"""Normalisation of text, URLs, hashtags, handles and times. Pure functions, no network.

The raw value is always stored too; these give the comparable form.

References
----------
URL normalisation follows RFC 3986 section 6 (case, default ports, dot segments) plus the
tracking-parameter removal used in link-sharing studies (e.g. Giglietto et al., CooRnet).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "fold_handle",
    "fold_handle_array",
    "fold_hashtag",
    "fold_hashtag_array",
    "normalise_text",
    "normalise_text_array",
    "normalise_url",
    "normalise_url_array",
    "parse_time",
    "url_domain",
    "url_domain_array",
]

# Invisible format characters (zero-width spaces and joiners, bidi marks, BOM) hide
# copy-paste edits; \p{Z} covers the Unicode spaces NFKC leaves alone (line separators).
_CF = r"\p{Cf}"
_SPACES = r"[\s\p{Z}]+"


def normalise_text_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`normalise_text` over an Arrow string array (the one implementation)."""
    n = pc.utf8_normalize(values, "NFKC")
    n = pc.replace_substring_regex(n, _CF, "")
    n = pc.utf8_lower(n)
    n = pc.utf8_trim_whitespace(pc.replace_substring_regex(n, _SPACES, " "))
    return pc.if_else(pc.equal(n, ""), pa.scalar(None, pa.string()), n)


def _fold_array(values: pa.Array | pa.ChunkedArray, sigil: str) -> pa.Array | pa.ChunkedArray:
    n = pc.utf8_normalize(values, "NFKC")
    n = pc.replace_substring_regex(n, _CF, "")
    n = pc.utf8_trim_whitespace(n)
    n = pc.replace_substring_regex(n, f"^{sigil}+", "")
    n = pc.utf8_lower(pc.utf8_trim_whitespace(n))
    return pc.if_else(pc.equal(n, ""), pa.scalar(None, pa.string()), n)


def fold_hashtag_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`fold_hashtag`."""
    return _fold_array(values, "#")


def fold_handle_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`fold_handle`."""
    return _fold_array(values, "@")


def _scalar(fn: Callable[[pa.Array], pa.Array], value: str | None) -> str | None:
    if value is None:
        return None
    out: str | None = fn(pa.array([value], pa.string()))[0].as_py()
    return out


def normalise_text(text: str | None) -> str | None:
    """NFKC (folds full-width Latin and digits, half-width kana), no invisible format
    characters, lower case, whitespace collapsed. Empty text gives ``None`` (never a match).

    >>> normalise_text("  ＦＩＭＩ　は\u200b 危険！ ")
    'fimi は 危険!'
    >>> normalise_text("   ") is None
    True
    """
    return _scalar(normalise_text_array, text)


def fold_hashtag(tag: str | None) -> str | None:
    """Fold a hashtag: NFKC, lower case, without leading ``#`` (full-width ``＃`` too).

    >>> fold_hashtag("＃参院選")
    '参院選'
    >>> fold_hashtag("#Japan") == fold_hashtag("ｊａｐａｎ")
    True
    """
    return _scalar(fold_hashtag_array, tag)


def fold_handle(handle: str | None) -> str | None:
    """Fold a handle: NFKC, lower case, without leading ``@`` (full-width ``＠`` too).

    >>> fold_handle("＠Sputnik_JP")
    'sputnik_jp'
    """
    return _scalar(fold_handle_array, handle)


_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "spm",
        "cmpid",
        "ocid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mkt_tok",
        "vero_id",
        "oly_enc_id",
        "oly_anon_id",
    }
)
# X appends ?s=NN (share sheet) and ?t=... (tracking) to its links.
_X_HOSTS = frozenset(
    {"x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com", "mobile.x.com", "www.x.com"}
)
_X_TRACKING = frozenset({"s", "t", "ref_src", "ref_url"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMELESS = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)+(?:[/?#:]|$)", re.UNICODE)


@lru_cache(maxsize=200_000)
def normalise_url(url: str | None) -> str | None:
    """Normalise a URL for comparison; ``None`` for empty or unparseable input.

    Lower-cases scheme and host, drops default ports, fragments, trailing slashes and
    tracking parameters (``utm_*``, ``fbclid``, X's ``s`` and ``t``), sorts the remaining query,
    maps twitter.com hosts to x.com. Short links (``t.co``) are kept: no network calls.

    >>> normalise_url("HTTPS://WWW.Example.COM:443/a/b/?utm_source=x&b=2&a=1#top")
    'https://www.example.com/a/b?a=1&b=2'
    >>> normalise_url("https://twitter.com/sputnik_jp/status/1?s=20&t=abc")
    'https://x.com/sputnik_jp/status/1'
    >>> normalise_url("") is None
    True
    """
    if not url:
        return None
    url = url.strip()
    if not url:
        return None
    if "://" not in url:
        if _SCHEMELESS.match(url):
            url = "http://" + url
        else:
            return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    if host in _X_HOSTS:
        host = "x.com"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~%")
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    query_pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (
            k.lower().startswith(_TRACKING_PREFIXES)
            or k.lower() in _TRACKING
            or (host == "x.com" and k.lower() in _X_TRACKING)
        )
    ]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_domain(url_norm: str | None) -> str | None:
    """Host of a normalised URL without ``www.``.

    >>> url_domain("https://www.asahi.com/articles/x")
    'asahi.com'
    """
    if not url_norm:
        return None
    host = urlsplit(url_norm).hostname or ""
    host = host.removeprefix("www.")
    return host or None


def normalise_url_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`normalise_url`: each distinct value is normalised once."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    uniques = [normalise_url(u) for u in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(uniques, pa.string()), encoded.indices)


def url_domain_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`url_domain`."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    uniques = [url_domain(u) for u in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(uniques, pa.string()), encoded.indices)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def parse_time(value: str | int | float | None) -> datetime | None:
    """Parse the time formats platforms export into an aware UTC datetime.

    Accepts ISO 8601 (``2025-07-10T03:04:05.000Z``, offsets), Twitter v1.1
    (``Wed Oct 10 20:19:24 +0000 2018``), and epoch seconds / milliseconds / microseconds.
    A time without an offset is taken as UTC. Raises ``ValueError`` on anything else.

    >>> parse_time("2025-07-10T12:00:00+09:00").isoformat()
    '2025-07-10T03:00:00+00:00'
    >>> parse_time("Wed Oct 10 20:19:24 +0000 2018").isoformat()
    '2018-10-10T20:19:24+00:00'
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    s = value.strip()
    if s.isdigit():
        return _from_epoch(float(s))
    if len(s) == 30 and s[3] == " " and s[-5] == " ":
        # Twitter v1.1: 'Wed Oct 10 20:19:24 +0000 2018'
        try:
            month = _MONTHS[s[4:7]]
            off = s[20:25]
            sign = -1 if off[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[3:5])))
            dt = datetime(
                int(s[26:30]),
                month,
                int(s[8:10]),
                int(s[11:13]),
                int(s[14:16]),
                int(s[17:19]),
                tzinfo=tz,
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a time: {value!r}") from exc
        return dt.astimezone(UTC)
    try:
        dt = datetime.fromisoformat(s)
    except ValueError as exc:
        raise ValueError(f"not a time: {value!r}") from exc
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _from_epoch(x: float) -> datetime:
    # Decide the unit by magnitude: seconds until ~2286, then ms, then µs.
    if x > 1e15:
        return _EPOCH + timedelta(microseconds=int(x))
    if x > 1e11:
        return _EPOCH + timedelta(milliseconds=x)
    return _EPOCH + timedelta(seconds=x)
