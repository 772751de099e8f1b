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

import numpy as np
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


# After NFKC, a whitespace run needs rewriting only where it is longer than one character or
# is another character than the plain space; \s in RE2 is [\t\n\f\r ].
_SPACES_TO_FIX = r"[\s\p{Z}]{2}|[\t\n\f\r]|[^\P{Z} ]"


def _replace_where(values: pa.Array, pattern: str, fix: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``fix`` applied only to the values matching ``pattern`` (regex replacement rewrites
    every string it is given; most need nothing)."""
    hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    if not pc.any(hit).as_py():
        return values
    return pc.replace_with_mask(values, hit, fix(values.filter(hit)))


def normalise_text_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`normalise_text` over an Arrow string array (the one implementation)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = pc.utf8_normalize(values, "NFKC")
    n = _replace_where(n, _CF, lambda v: pc.replace_substring_regex(v, _CF, ""))
    n = pc.utf8_lower(n)
    n = _replace_where(n, _SPACES_TO_FIX, lambda v: pc.replace_substring_regex(v, _SPACES, " "))
    n = pc.utf8_trim_whitespace(n)
    return pc.if_else(pc.equal(n, ""), pa.scalar(None, pa.string()), n)


def _normalise_text_plain(values: pa.Array) -> pa.Array:
    """The same, rewriting every value (the reference the tests hold the above to)."""
    n = pc.utf8_normalize(values, "NFKC")
    n = pc.replace_substring_regex(n, _CF, "")
    n = pc.utf8_lower(n)
    n = pc.utf8_trim_whitespace(pc.replace_substring_regex(n, _SPACES, " "))
    return pc.if_else(pc.equal(n, ""), pa.scalar(None, pa.string()), n)


def _fold_array(values: pa.Array | pa.ChunkedArray, sigil: str) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # tags and handles repeat a lot: fold each distinct value once
    encoded = pc.dictionary_encode(values)
    n = pc.utf8_normalize(encoded.dictionary, "NFKC")
    n = pc.replace_substring_regex(n, _CF, "")
    n = pc.utf8_trim_whitespace(n)
    n = pc.replace_substring_regex(n, f"^{sigil}+", "")
    n = pc.utf8_lower(pc.utf8_trim_whitespace(n))
    n = pc.if_else(pc.equal(n, ""), pa.scalar(None, pa.string()), n)
    return pc.take(n, encoded.indices)


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


# The vectorised fast path of `normalise_url` covers the common shape of a link, for which the
# result is plain string surgery (see `_fast_urls`): http(s), an ASCII host of letters, digits,
# hyphens and dots, no port, no user, a path of characters that `quote(unquote(...))` leaves as
# they are (no `%`), and a query of `key=value` pieces of unreserved characters (which
# `parse_qsl` + `urlencode` give back unchanged). Every other value goes through
# `normalise_url` itself. A property test checks that both give the same result.
_P = "A-Za-z0-9._~-"
_FAST_URL = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"(?:/[A-Za-z0-9/._~!$&'()*+,;=:@-]*)?"
    rf"(?:\?(?:[{_P}]*(?:=[{_P}]*)?)(?:&[{_P}]*(?:=[{_P}]*)?)*)?"
    r"(?:#[^\s]*)?$"
)
_URL_PARTS = r"^(?P<scheme>[A-Za-z]+)://(?P<host>[^/?#]+)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?"
_FAST_DOMAIN = r"^https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:[/?]|$)"


def _tracking_key(keys: pa.Array, x_host: pa.Array) -> pa.Array:
    """Which query keys `normalise_url` drops (``x_host``: the URL's host is x.com)."""
    low = pc.utf8_lower(keys)
    drop = pc.is_in(low, pa.array(sorted(_TRACKING), pa.string()))
    for prefix in _TRACKING_PREFIXES:
        drop = pc.or_(drop, pc.starts_with(low, prefix))
    x_drop = pc.and_(x_host, pc.is_in(low, pa.array(sorted(_X_TRACKING), pa.string())))
    return pc.or_(drop, x_drop)


def _fast_urls(values: pa.Array) -> pa.Array:
    """`normalise_url` of values that all match `_FAST_URL` (no nulls), in Arrow."""
    n = len(values)
    parts = pc.extract_regex(values, _URL_PARTS)
    scheme = pc.utf8_lower(parts.field("scheme"))
    host = pc.utf8_lower(parts.field("host"))
    x_host = pc.is_in(host, pa.array(sorted(_X_HOSTS), pa.string()))
    host = pc.if_else(x_host, pa.scalar("x.com"), host)
    path = pc.utf8_rtrim(pc.replace_substring_regex(parts.field("path"), "/{2,}", "/"), "/")
    base = pc.binary_join_element_wise(scheme, "://", host, path, "")
    query = pc.fill_null(parts.field("query"), "")
    has_query = pc.not_equal(query, "")
    if not pc.any(has_query).as_py():
        return base
    # key=value pieces: split, drop empty ones and tracking keys, sort by (key, value), join
    pieces = pc.split_pattern(query, "&")
    flat = pc.list_flatten(pieces)
    parent = pc.list_parent_indices(pieces)
    kv = pc.extract_regex(flat, r"^(?P<k>[^=]*)(?:=(?P<v>.*))?$")
    keys = kv.field("k")
    vals = pc.fill_null(kv.field("v"), "")
    keep = pc.and_(pc.not_equal(flat, ""), pc.invert(_tracking_key(keys, pc.take(x_host, parent))))
    kept = pa.table({"p": parent, "k": keys, "v": vals}).filter(keep)
    kept = kept.take(
        pc.sort_indices(kept, [("p", "ascending"), ("k", "ascending"), ("v", "ascending")])
    )
    joined = pc.binary_join_element_wise(kept.column("k"), kept.column("v"), "=")
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(kept.column("p").to_numpy(), minlength=n), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), joined.combine_chunks())
    q = pc.binary_join(lists, "&")
    return pc.if_else(pc.equal(q, ""), base, pc.binary_join_element_wise(base, q, "?"))


def _by_distinct(
    values: pa.Array | pa.ChunkedArray,
    fast_pattern: str,
    fast: Callable[[pa.Array], pa.Array],
    slow: Callable[[str | None], str | None],
) -> pa.Array:
    """Apply a scalar function to each distinct value once: the values matching
    ``fast_pattern`` in Arrow with ``fast``, the others with ``slow``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    uniques = encoded.dictionary
    if len(uniques) == 0:
        return pa.nulls(len(values), pa.string())
    is_fast = pc.fill_null(pc.match_substring_regex(uniques, fast_pattern), False)
    fast_idx = np.flatnonzero(is_fast.to_numpy(zero_copy_only=False))
    slow_idx = np.flatnonzero(~is_fast.to_numpy(zero_copy_only=False))
    if len(slow_idx) == len(uniques):
        results = pa.array([slow(u) for u in uniques.to_pylist()], pa.string())
    else:
        pieces = []
        order = []
        if len(fast_idx):
            pieces.append(fast(uniques.take(pa.array(fast_idx))))
            order.append(fast_idx)
        if len(slow_idx):
            slow_vals = uniques.take(pa.array(slow_idx)).to_pylist()
            pieces.append(pa.array([slow(u) for u in slow_vals], pa.string()))
            order.append(slow_idx)
        stacked = pa.concat_arrays([p.cast(pa.string()) for p in pieces])
        inverse = np.empty(len(uniques), np.int64)
        inverse[np.concatenate(order)] = np.arange(len(uniques), dtype=np.int64)
        results = stacked.take(pa.array(inverse))
    return pc.take(results, encoded.indices)


def normalise_url_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`normalise_url`: each distinct value is normalised once, the common
    shapes in Arrow, the rest in Python."""
    return _by_distinct(values, _FAST_URL, _fast_urls, normalise_url)


def _fast_domains(values: pa.Array) -> pa.Array:
    host = pc.extract_regex(values, r"^https?://(?P<h>[a-z0-9.-]+)").field("h")
    return pc.replace_substring_regex(host, r"^www\.", "")


def url_domain_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`url_domain` (the same split as :func:`normalise_url_array`)."""
    return _by_distinct(values, _FAST_DOMAIN, _fast_domains, url_domain)


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
