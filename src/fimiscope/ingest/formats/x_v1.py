"""X (Twitter) API v1.1 statuses as JSON Lines, as twarc1, Tweepy and GNIP (original format) write
them: one status object per line, stream notices (``delete``, ``limit``, ...) in between.

Shapes follow the v1.1 Tweet object: ``id_str``, ``created_at`` (``Wed Oct 10 20:19:24 +0000
2018``), ``full_text`` (extended mode) or ``text`` plus ``extended_tweet`` (compatibility mode),
``user``, ``retweeted_status``, ``quoted_status``, ``in_reply_to_*``, ``entities`` and
``extended_entities``.
"""

from __future__ import annotations

import html
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from fimiscope.ingest.formats._common import as_int
from fimiscope.ingest.normalise import parse_time
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import HEAD_BYTES, SourceFile, iter_json_lines

PLATFORM = "x"
# Stream messages that are not statuses: counted as records, never posts, never rejects.
_NOTICES = frozenset(
    {
        "delete",
        "limit",
        "scrub_geo",
        "status_withheld",
        "user_withheld",
        "disconnect",
        "warning",
        "status_deletion_notice",
    }
)
# v2 media keys are the v1.1 media id prefixed by a type code; using the same key lets the
# same picture match across v1.1 and v2 files.
_MEDIA_PREFIX = {"photo": "3_", "video": "7_", "animated_gif": "16_"}
_SNIFF_LINES = 20


def _time(value: Any, where: str) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRecord(f"bad created_at {value!r}", where) from exc


@lru_cache(maxsize=4096)
def client_name(source: str | None) -> str | None:
    """The client name inside v1.1's HTML ``source`` (a few hundred distinct values: cached).

    >>> client_name('<a href="http://x.com/download" rel="nofollow">Twitter for iPhone</a>')
    'Twitter for iPhone'
    >>> client_name("web")
    'web'
    """
    if not source:
        return None
    if source.startswith("<a"):
        start = source.find(">") + 1
        end = source.rfind("</a>")
        if 0 < start <= end:
            source = source[start:end]
    return html.unescape(source) if "&" in source else source


def _id(obj: dict[str, Any], key: str = "id") -> str | None:
    """``<key>_str`` when present: the bare number loses precision in JavaScript-made dumps."""
    value = obj.get(key + "_str")
    if value:
        return value
    value = obj.get(key)
    return None if value is None else str(value)


class XApiV1:
    """Twitter API v1.1 statuses, one JSON object per line.

    A retweet is stored as a ``repost`` plus the retweeted original (with its author) as a post
    of its own; a quoted status likewise. Replies, and quotes whose status is not embedded,
    leave a stub post for the target. Stream notices (``delete``, ``limit``) count as records
    but make no rows.
    """

    name = "x-v1"
    platform = PLATFORM
    description = "X (Twitter) API v1.1 JSON Lines"
    expected = "Twitter API v1.1 status objects (with 'id_str', 'user', 'created_at'), one per line"

    def sniff(self, source: SourceFile) -> float:
        head = source.head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] != b"{":
            return 0.0
        notices = 0
        lines = head.split(b"\n", _SNIFF_LINES)[:_SNIFF_LINES]
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                if i == len(lines) - 1 and len(source.head) >= HEAD_BYTES:
                    # A status longer than the sniffing head: judge its raw start.
                    return 0.8 if b'"id_str":' in raw and b'"user":{' in raw else 0.0
                if i == 0:
                    return 0.0
                continue
            if not isinstance(obj, dict):
                return 0.0
            if _is_notice(obj):
                notices += 1
                continue
            return _sniff_status(obj)
        return 0.6 if notices else 0.0

    def parse(self, source: SourceFile, sink: Sink) -> None:
        for number, offset, raw, obj in iter_json_lines(source, sink):
            with sink.record(line=number, byte_offset=offset, excerpt=raw):
                if not isinstance(obj, dict):
                    raise BadRecord(f"expected a JSON object, got {type(obj).__name__}")
                if _is_notice(obj):
                    continue
                if "id_str" not in obj and "id" not in obj:
                    raise BadRecord(f"not a v1.1 status: keys {sorted(obj)[:8]}")
                _status(obj, sink, "")


def _is_notice(obj: dict[str, Any]) -> bool:
    return len(obj) <= 2 and not _NOTICES.isdisjoint(obj)


def _sniff_status(obj: dict[str, Any]) -> float:
    if "data" in obj:
        return 0.0  # a v2 response
    created = obj.get("created_at")
    v11_time = isinstance(created, str) and len(created) == 30 and created[-5:].isdigit()
    if "id_str" in obj and isinstance(obj.get("user"), dict):
        return 0.95
    if ("id_str" in obj or "id" in obj) and v11_time:
        return 0.85
    return 0.0


def _status(t: dict[str, Any], sink: Sink, where: str) -> None:
    """One status and everything embedded in it; ``where`` locates it in the line."""
    tid = _id(t)
    if not tid:
        raise BadRecord("status without an id", where + "id_str")
    user = t.get("user")
    if not isinstance(user, dict):
        raise BadRecord("status without a 'user' object", where + "user")
    uid = _user(user, sink, where + "user.")
    retweeted = t.get("retweeted_status")
    if isinstance(retweeted, dict):
        _repost(t, tid, uid, retweeted, sink, where)
        return
    _original(t, tid, uid, sink, where)


def _user(u: dict[str, Any], sink: Sink, where: str) -> str:
    uid = _id(u)
    if not uid:
        raise BadRecord("user without an id", where + "id")
    sink.account(
        PLATFORM,
        uid,
        handle=u.get("screen_name"),
        display_name=u.get("name"),
        description=u.get("description"),
        location=u.get("location") or None,
        created_at=_time(u.get("created_at"), where + "created_at"),
        followers_count=as_int(u.get("followers_count")),
        following_count=as_int(u.get("friends_count")),
        posts_count=as_int(u.get("statuses_count")),
        verified=u.get("verified"),
        protected=u.get("protected"),
        default_profile_image=u.get("default_profile_image"),
        profile_image_url=u.get("profile_image_url_https") or u.get("profile_image_url"),
        lang=u.get("lang"),
    )
    return uid


def _repost(
    t: dict[str, Any], tid: str, uid: str, original: dict[str, Any], sink: Sink, where: str
) -> None:
    # A retweet's own quote/reply fields are copies of the original's: they belong to it.
    text = t.get("full_text") or t.get("text")
    orig_user = original.get("user")
    orig_uid = _id(orig_user) if isinstance(orig_user, dict) else None
    sink.post(
        PLATFORM,
        tid,
        account_id=uid,
        created_at=_time(t.get("created_at"), where + "created_at"),
        kind="repost",
        ref_post_id=_id(original),
        ref_account_id=orig_uid,
        text=text,
        lang=t.get("lang"),
        client=client_name(t.get("source")),
        like_count=as_int(t.get("favorite_count")),
        repost_count=as_int(t.get("retweet_count")),
        reply_count=as_int(t.get("reply_count")),
        quote_count=as_int(t.get("quote_count")),
        is_truncated=bool(text and text.endswith("…")),
        withheld=_withheld(t),
        url=_url(t, tid),
    )
    _entities(t, tid, sink)
    _status(original, sink, where + "retweeted_status.")


def _original(t: dict[str, Any], tid: str, uid: str, sink: Sink, where: str) -> None:
    ext = t.get("extended_tweet")
    ext = ext if isinstance(ext, dict) else {}
    text = ext.get("full_text") or t.get("full_text") or t.get("text")
    reply_to = t.get("in_reply_to_status_id_str") or _str(t.get("in_reply_to_status_id"))
    reply_user = t.get("in_reply_to_user_id_str") or _str(t.get("in_reply_to_user_id"))
    quoted = t.get("quoted_status")
    quoted = quoted if isinstance(quoted, dict) else None
    quote_id = t.get("quoted_status_id_str") or _str(t.get("quoted_status_id"))
    if quoted is not None and not quote_id:
        quote_id = _id(quoted)
    quote_user = quoted.get("user") if quoted else None
    quote_uid = _id(quote_user) if isinstance(quote_user, dict) else None
    kind = "reply" if reply_to else "quote" if quote_id else "post"
    sink.post(
        PLATFORM,
        tid,
        account_id=uid,
        created_at=_time(t.get("created_at"), where + "created_at"),
        kind=kind,
        ref_post_id=reply_to or quote_id,
        ref_account_id=reply_user if reply_to else quote_uid,
        text=text,
        lang=t.get("lang"),
        client=client_name(t.get("source")),
        like_count=as_int(t.get("favorite_count")),
        repost_count=as_int(t.get("retweet_count")),
        reply_count=as_int(t.get("reply_count")),
        quote_count=as_int(t.get("quote_count")),
        is_truncated=bool(t.get("truncated")) and not ext.get("full_text"),
        withheld=_withheld(t),
        url=_url(t, tid),
    )
    if reply_to:
        if t.get("in_reply_to_screen_name") and reply_user:
            sink.account(PLATFORM, reply_user, handle=t["in_reply_to_screen_name"])
        sink.post(PLATFORM, reply_to, account_id=reply_user, created_at=None, is_stub=True)
        if quote_id:
            sink.ref(PLATFORM, tid, "quote", quote_id, quote_uid)
    _entities(ext or t, tid, sink)
    if quoted is not None:
        _status(quoted, sink, where + "quoted_status.")
    elif quote_id:
        # Quoted but not embedded (deleted, protected, or trimmed by the collector).
        sink.post(PLATFORM, quote_id, account_id=None, created_at=None, is_stub=True)


def _entities(t: dict[str, Any], tid: str, sink: Sink) -> None:
    """Entities of ``t``: the status itself or its ``extended_tweet``."""
    ent = t.get("entities") or {}
    for i, u in enumerate(ent.get("urls") or ()):
        unwound = u.get("unwound") or {}
        sink.url(PLATFORM, tid, i, u.get("url"), unwound.get("url") or u.get("expanded_url"))
    for i, h in enumerate(ent.get("hashtags") or ()):
        sink.hashtag(PLATFORM, tid, i, h.get("text"))
    for i, m in enumerate(ent.get("user_mentions") or ()):
        mid = _id(m)
        sink.mention(PLATFORM, tid, i, m.get("screen_name"), mid)
    media = (t.get("extended_entities") or {}).get("media") or ent.get("media") or ()
    for i, m in enumerate(media):
        mid = _id(m)
        mtype = m.get("type")
        key = _MEDIA_PREFIX.get(mtype, "") + mid if mid else None
        sink.media(
            PLATFORM,
            tid,
            i,
            media_key=key,
            media_type=mtype,
            url=m.get("media_url_https") or m.get("media_url"),
        )


def _withheld(t: dict[str, Any]) -> str | None:
    return ",".join(t.get("withheld_in_countries") or ()) or None


def _url(t: dict[str, Any], tid: str) -> str:
    user = t.get("user") or {}
    return f"https://x.com/{user.get('screen_name') or 'i/web'}/status/{tid}"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


register(XApiV1())
