"""Telegram Desktop exports in JSON: one chat's ``result.json``, or a whole account's.

A chat export is ``{"name", "type", "id", "messages": [...]}``; an account export holds such
chats under ``chats.list`` (and ``left_chats.list``). Each message is a record:

- ``type: "message"`` becomes a post ``"<chat id>/<message id>"`` by ``from_id``
  (``user123`` / ``channel123``; a channel's own posts fall back to ``channel<chat id>``).
  A reply (``reply_to_message_id``) points at ``"<chat id>/<that id>"`` in the same chat.
- ``type: "service"`` (joins, pins, title changes) is counted and writes nothing.

Times come from ``date_unixtime`` (UTC). Older exports only have ``date``, which is the
*local time of the machine that exported*, with no offset; it is read as UTC, which can be
off by that machine's offset.

Forwards
--------
A forwarded message is a ``repost``. The export names the source (``forwarded_from``, and in
newer versions ``forwarded_from_id``) but not the original message's id, so the reposted post
gets a deterministic synthetic id::

    fwd:<forwarded_from_id, or "name:" + forwarded_from>:<16 hex of SHA-256 over the text
                                                           and the media's own properties>

Two channels forwarding the same original (same source, same text, same file size and
dimensions) thus repost the same id, which is what co-repost detection needs. The price: a
source that posts the very same text twice is one id, and the synthetic id never equals the
original's ``"<chat id>/<id>"`` even when the source channel's export is ingested too.

Limits
------
The file is parsed in one piece, which takes several times its size in memory; files above
``source.options["max_bytes"]`` (default 512 MiB uncompressed) are refused with a message
rather than exhausting memory. Reactions give only counts (their sum is stored as
``like_count``), plus engagements ``reaction:<emoji>`` for the ``recent`` reactors small
chats export. Media paths are stored as ``media_key`` only when the file was exported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from fimiscope.errors import FormatMismatchError, IngestError
from fimiscope.ingest.formats._common import first_json_value, is_partial
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile

PLATFORM = "telegram"
MAX_BYTES = 512 * 1024 * 1024
_CHANNEL_TYPES = frozenset({"public_channel", "private_channel"})
_PUBLIC_LINK_TYPES = _CHANNEL_TYPES | {"public_supergroup", "private_supergroup"}
_PEER_TYPES = frozenset({"personal_chat", "bot_chat"})
# Properties of a forwarded message that are the same in every copy of it.
_MEDIA_PROPS = (
    "media_type",
    "mime_type",
    "width",
    "height",
    "duration_seconds",
    "photo_file_size",
    "file_size",
    "sticker_emoji",
)
_NOT_EXPORTED = "(File not included"
# How Telegram Desktop writes a message object: '"id": N,' then '"type":'.
_MESSAGE_START = re.compile(rb'\{\s*"id":\s*(-?\d+),\s*"type":')


def _read(source: SourceFile) -> bytes:
    limit = int(source.options.get("max_bytes", MAX_BYTES))
    with source.open() as f:
        data = f.read(limit + 4)  # + a byte-order mark some tools add when re-saving
    if len(data) > limit + 3 * data.startswith(b"\xef\xbb\xbf"):
        raise IngestError(
            source.path,
            (
                f"larger than {limit} bytes uncompressed; Telegram exports are read whole, so "
                "export fewer chats per file or raise the 'max_bytes' option"
            ),
        )
    return data


def _chats(doc: Any) -> Iterator[tuple[str, Any]]:
    """``(location, chat)`` for a chat export or each chat of an account export."""
    if isinstance(doc, dict) and "messages" in doc:
        yield "", doc
        return
    found = False
    for key in ("chats", "left_chats"):
        section = doc.get(key) if isinstance(doc, dict) else None
        chats = section.get("list") if isinstance(section, dict) else None
        if isinstance(chats, list):
            found = True
            for i, chat in enumerate(chats):
                yield f"{key}.list[{i}].", chat
    if not found:
        raise ValueError("no 'messages' and no 'chats.list'")


def _places(data: bytes, ids: list[Any]) -> list[tuple[int | None, int | None]]:
    """Line and byte offset of each message, in order, for reject reports.

    Telegram Desktop writes one key per line, so a message starts with ``{"id": N, "type":``.
    The places are trusted only if the ids found agree, in order, with the messages parsed;
    otherwise every message gets ``(None, None)`` and rejects carry their JSON location alone.
    """
    places: list[tuple[int | None, int | None]] = []
    line, last = 1, 0
    for match, expected in zip(_MESSAGE_START.finditer(data), ids, strict=False):
        if int(match[1]) != expected:
            break
        line += data.count(b"\n", last, match.start())
        last = match.start()
        places.append((line, last))
    if len(places) != len(ids):
        return [(None, None)] * len(ids)
    return places


class _Chat:
    """What messages need to know about their chat: its id, its kind, who wrote what."""

    __slots__ = ("account", "authors", "id", "kind", "link")

    def __init__(self, chat: Any) -> None:
        if not isinstance(chat, dict):
            raise BadRecord("a chat that is not an object")
        messages = chat.get("messages")
        if not isinstance(messages, list):
            raise BadRecord("chat without a 'messages' list", "messages")
        chat_id = chat.get("id")
        if (
            isinstance(chat_id, bool)
            or not isinstance(chat_id, int | str)
            or not str(chat_id).lstrip("-").isdigit()
        ):
            raise BadRecord(
                f"chat id is not a number: {chat_id!r}; its {len(messages)} "
                "messages cannot be named and are not read",
                "id",
            )
        self.id = str(chat_id)
        self.kind = chat.get("type")
        self.account = (
            f"channel{self.id}"
            if self.kind in _CHANNEL_TYPES
            else f"user{self.id}"
            if self.kind in _PEER_TYPES
            else None
        )
        # t.me/c/<id>/<msg> opens the message for anyone who can see the chat.
        self.link = self.kind in _PUBLIC_LINK_TYPES
        # Who wrote each message, so that a reply knows whom it answers.
        self.authors = {
            m.get("id"): m.get("from_id")
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("from_id"), str)
        }


class TelegramExport:
    """The ``telegram`` format: see the module docstring."""

    name = "telegram"
    platform = PLATFORM
    description = "a Telegram Desktop JSON export"
    expected = (
        'Telegram Desktop\'s result.json: a chat {"name", "type", "id", '
        '"messages": [...]} or a whole-account export with "chats": {"list": [...]}'
    )

    def sniff(self, source: SourceFile) -> float:
        value = first_json_value(source)
        if value is None:
            return 0.0
        if is_partial(value):
            if value.has_keys("messages") and (
                value.has_keys("date_unixtime") or value.has_keys("text_entities")
            ):
                return 0.85
            return 0.7 if value.has_keys("personal_information") else 0.0
        if not isinstance(value, dict):
            return 0.0
        if isinstance(value.get("messages"), list) and "id" in value and "type" in value:
            return 0.95
        chats = value.get("chats")
        if isinstance(chats, dict) and isinstance(chats.get("list"), list):
            return 0.95
        return 0.0

    def parse(self, source: SourceFile, sink: Sink) -> None:
        data = _read(source)
        try:
            # orjson refuses a byte-order mark; reject places stay those of the file as it is.
            doc = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
            chats = list(_chats(doc))
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise FormatMismatchError(
                source.path, f"is not {self.description} ({exc}); the file may be truncated"
            ) from exc
        ids = [
            m.get("id") if isinstance(m, dict) else None
            for _, chat in chats
            if isinstance(chat, dict)
            for m in (chat.get("messages") if isinstance(chat.get("messages"), list) else ())
        ]
        places = iter(_places(data, ids))
        for where, raw_chat in chats:
            chat = None
            with sink.record(
                location=where.rstrip(".") or None, excerpt=_excerpt(raw_chat, "messages")
            ):
                chat = _within(where.rstrip("."), _Chat, raw_chat)
                if chat.account:
                    sink.account(PLATFORM, chat.account, display_name=_str(raw_chat.get("name")))
            messages = raw_chat.get("messages") if isinstance(raw_chat, dict) else None
            if not isinstance(messages, list):
                continue
            if chat is None:  # the chat's reject says how many messages went with it
                for _ in messages:
                    next(places)
                continue
            for i, msg in enumerate(messages):
                line, offset = next(places)
                with sink.record(
                    line=line,
                    byte_offset=offset,
                    location=f"{where}messages[{i}]",
                    excerpt=_excerpt(msg),
                ):
                    _within(f"{where}messages[{i}]", _message, chat, msg, sink)


def _within(where: str, fn: Any, *args: Any) -> Any:
    """Call ``fn``; a BadRecord's field is reported under the record's place in the document."""
    try:
        return fn(*args)
    except BadRecord as exc:
        field = exc.location
        raise BadRecord(
            str(exc), f"{where}.{field}" if where and field else where or field
        ) from exc


def _excerpt(value: Any, drop: str | None = None) -> bytes:
    if isinstance(value, dict) and drop:
        value = {k: v for k, v in value.items() if k != drop}
    try:
        return orjson.dumps(value)
    except TypeError:
        return repr(value).encode()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{field} is not an integer: {value!r}", field)
    return value


def _date(msg: dict[str, Any]) -> datetime:
    unix = msg.get("date_unixtime")
    if unix is not None:
        if isinstance(unix, bool) or not str(unix).isdigit():
            raise BadRecord(f"bad date_unixtime {unix!r}", "date_unixtime")
        try:
            return datetime.fromtimestamp(int(unix), UTC)
        except (OverflowError, OSError) as exc:
            raise BadRecord(f"bad date_unixtime {unix!r}", "date_unixtime") from exc
    value = msg.get("date")
    if not isinstance(value, str):
        raise BadRecord("a message without 'date' or 'date_unixtime'", "date")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRecord(f"bad date {value!r}", "date") from exc
    # No offset in the export: the exporting machine's local time, taken as UTC (see above).
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _text(msg: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and the entities, from ``text`` (a string or a mixed list)."""
    text = msg.get("text", "")
    parts: list[str] = []
    inline: list[dict[str, Any]] = []
    if isinstance(text, str):
        parts.append(text)
    elif isinstance(text, list):
        for part in text:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
                inline.append(part)
            else:
                raise BadRecord(
                    f"a text part that is neither text nor an entity: {part!r}"[:200], "text"
                )
    else:
        raise BadRecord(f"text is neither a string nor a list: {text!r}"[:200], "text")
    entities = msg.get("text_entities")
    if not isinstance(entities, list):
        entities = inline  # older exports have no text_entities: the list's objects are them
    return "".join(parts), [e for e in entities if isinstance(e, dict)]


def _forward_ref(msg: dict[str, Any], text: str) -> tuple[str, str | None]:
    source_id = _str(msg.get("forwarded_from_id"))
    name = _str(msg.get("forwarded_from"))
    source = source_id or (f"name:{name}" if name else "unknown")
    fingerprint = orjson.dumps([text, *(msg.get(k) for k in _MEDIA_PROPS)])
    return f"fwd:{source}:{hashlib.sha256(fingerprint).hexdigest()[:16]}", source_id


def _message(chat: _Chat, msg: Any, sink: Sink) -> None:
    if not isinstance(msg, dict):
        raise BadRecord(f"a message that is not an object: {type(msg).__name__}")
    kind = msg.get("type")
    if kind == "service":
        return  # joins, pins, renames: counted, not posts
    if kind != "message":
        raise BadRecord(f"unknown message type {kind!r}", "type")
    mid = _int(msg.get("id"), "id")
    if mid is None:
        raise BadRecord("a message without an id", "id")
    post_id = f"{chat.id}/{mid}"
    created = _date(msg)
    text, entities = _text(msg)
    author = _str(msg.get("from_id")) or (chat.account if chat.kind in _CHANNEL_TYPES else None)
    if author:
        sink.account(PLATFORM, author, display_name=_str(msg.get("from")))
    refs: list[tuple[str, str, str | None]] = []
    if "forwarded_from" in msg or "forwarded_from_id" in msg:
        fwd, fwd_author = _forward_ref(msg, text)
        refs.append(("repost", fwd, fwd_author))
        if fwd_author:
            sink.account(PLATFORM, fwd_author, display_name=_str(msg.get("forwarded_from")))
    reply_to = _int(msg.get("reply_to_message_id"), "reply_to_message_id")
    if reply_to is not None:
        refs.append(("reply", f"{chat.id}/{reply_to}", chat.authors.get(reply_to)))
    kind_, ref, ref_author = refs[0] if refs else ("post", None, None)
    sink.post(
        PLATFORM,
        post_id,
        account_id=author,
        created_at=created,
        kind=kind_,
        ref_post_id=ref,
        ref_account_id=ref_author,
        text=text,
        client=_str(msg.get("via_bot")),
        like_count=_reactions(msg, post_id, author, sink),
        url=f"https://t.me/c/{chat.id}/{mid}" if chat.link else None,
    )
    for other, other_id, other_author in refs[1:]:
        sink.ref(PLATFORM, post_id, other, other_id, other_author)
    for _, ref_id, ref_acc in refs:
        sink.post(PLATFORM, ref_id, account_id=ref_acc, created_at=None, is_stub=True)
    _entities(post_id, entities, sink)
    _media(post_id, msg, sink)


def _reactions(msg: dict[str, Any], post_id: str, author: str | None, sink: Sink) -> int | None:
    """Sum of reaction counts; the named recent reactors become engagements."""
    reactions = msg.get("reactions")
    if not isinstance(reactions, list):
        return None
    total = 0
    for r in reactions:
        if not isinstance(r, dict):
            raise BadRecord("a reaction that is not an object", "reactions")
        total += _int(r.get("count"), "reactions.count") or 0
        emoji = _str(r.get("emoji")) or ("custom" if r.get("type") == "custom_emoji" else "?")
        for who in r.get("recent") or ():
            actor = _str(who.get("from_id")) if isinstance(who, dict) else None
            if actor:
                at = _date(who) if "date" in who or "date_unixtime" in who else None
                sink.engagement(
                    PLATFORM,
                    actor,
                    f"reaction:{emoji}",
                    target_post_id=post_id,
                    target_account_id=author,
                    at=at,
                )
    return total


def _entities(post_id: str, entities: list[dict[str, Any]], sink: Sink) -> None:
    tags = urls = mentions = 0
    for e in entities:
        kind, text = e.get("type"), _str(e.get("text"))
        if kind == "hashtag" and text:
            sink.hashtag(PLATFORM, post_id, tags, text.lstrip("#＃"))
            tags += 1
        elif kind == "link" and text:
            sink.url(PLATFORM, post_id, urls, text)
            urls += 1
        elif kind == "text_link" and _str(e.get("href")):
            sink.url(PLATFORM, post_id, urls, e["href"])
            urls += 1
        elif kind == "mention" and text:
            sink.mention(PLATFORM, post_id, mentions, text.lstrip("@＠"))
            mentions += 1
        elif kind == "mention_name" and _int(e.get("user_id"), "user_id") is not None:
            # A mention of a user without a username: the text is a display name, not a handle.
            sink.mention(PLATFORM, post_id, mentions, None, f"user{e['user_id']}")
            mentions += 1


def _media(post_id: str, msg: dict[str, Any], sink: Sink) -> None:
    position = 0
    for field, default_type in (("photo", "photo"), ("file", "file")):
        path = _str(msg.get(field))
        if path and not path.startswith(_NOT_EXPORTED):
            media_type = default_type if field == "photo" else _str(msg.get("media_type"))
            sink.media(
                PLATFORM, post_id, position, media_key=path, media_type=media_type or default_type
            )
            position += 1


register(TelegramExport())
