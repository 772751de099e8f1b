"""Platform identifiers and timestamps shaped like the real ones.

X ids are snowflakes (milliseconds since the Twitter epoch in the high bits), Bluesky record
keys are TIDs (microseconds, base32-sortable), content ids are CIDv1 dag-cbor sha256 strings.
"""

from __future__ import annotations

import base64
import hashlib
import time

import numpy as np

TWITTER_EPOCH_MS = 1288834974657
_B32_SORT = "234567abcdefghijklmnopqrstuvwxyz"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def snowflake(ms: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Return snowflake ids consistent with ``ms`` (Unix milliseconds).

    The low 22 bits carry the serial number, so ids made in one hour never collide.

    Examples
    --------
    >>> int(snowflake(np.array([TWITTER_EPOCH_MS]), np.array([5]))[0])
    5
    """
    return ((ms.astype(np.int64) - TWITTER_EPOCH_MS) << 22) | (serial.astype(np.int64) & 0x3FFFFF)


def snowflake_ms(tweet_id: int) -> int:
    """Return the Unix milliseconds encoded in a snowflake id."""
    return (tweet_id >> 22) + TWITTER_EPOCH_MS


def tid(us: int, clock: int) -> str:
    """Return an AT Protocol TID (13 base32-sortable characters) for ``us`` microseconds.

    Examples
    --------
    >>> len(tid(1_752_000_000_000_000, 7))
    13
    """
    value = (us << 10) | (clock & 0x3FF)
    out = []
    for _ in range(13):
        out.append(_B32_SORT[value & 31])
        value >>= 5
    return "".join(reversed(out))


def cid(key: bytes) -> str:
    """Return a CIDv1 (dag-cbor, sha2-256) string derived from ``key``.

    Examples
    --------
    >>> cid(b"x").startswith("bafyrei")
    True
    """
    raw = b"\x01\x71\x12\x20" + hashlib.sha256(key).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def did_plc(key: bytes) -> str:
    """Return a ``did:plc:`` identifier (24 base32 characters) derived from ``key``."""
    digest = hashlib.sha256(key).digest()[:15]
    return "did:plc:" + base64.b32encode(digest).decode().lower()


def tco(key: int) -> str:
    """Return a t.co short link derived from an integer key."""
    chars = []
    value = (key * 2654435761 + 97) & ((1 << 64) - 1)
    for _ in range(10):
        chars.append(_ALNUM[value % 62])
        value //= 62
        if value == 0:
            value = (key * 40503 + 12345) & ((1 << 64) - 1) or 1
    return "https://t.co/" + "".join(chars)


def iso_ms(ms: int) -> str:
    """Return ``2025-07-10T03:04:05.123Z`` for Unix milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def iso_x(ms: int) -> str:
    """Return an X API v2 timestamp (milliseconds always ``.000``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms // 1000))


def rfc822(ms: int) -> str:
    """Return an RFC 822 date as RSS ``pubDate`` uses it (in GMT)."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ms // 1000))
