"""Bluesky Jetstream events as JSON Lines (what ``websocat wss://jetstream…/subscribe`` saves).

One event per line: ``{"did", "time_us", "kind": "commit"|"identity"|"account", ...}``.
Commits to these collections become canonical rows:

============================  ============================================================
``app.bsky.feed.post``        a post (``reply.parent`` → reply, ``embed.record`` → quote),
                              with facets (tags, links, mentions), external links and images
``app.bsky.feed.repost``      a repost row ``at://<did>/app.bsky.feed.repost/<rkey>``
``app.bsky.feed.like``        an engagement ``like`` on ``subject.uri``
``app.bsky.graph.follow``     an engagement ``follow`` of ``subject`` (a DID)
``app.bsky.actor.profile``    the account's display name and description
============================  ============================================================

Commits to other collections (blocks, lists, ...) are counted and left out on purpose.
``delete`` commits are counted but write nothing: the store keeps what was seen, and a later
stage may honour deletions (a deleted post is itself a signal in FIMI work). ``identity``
events give the handle; ``account`` events (active / taken down) only make sure the account
exists, as the store has no column for the status yet.

The resumable position, the largest ``time_us`` read, goes to ``sources.cursor`` so a live
consumer can reconnect with ``?cursor=<time_us>``.

References
----------
Jetstream event shapes: https://github.com/bluesky-social/jetstream (README, "Example events").
Rich-text facets use UTF-8 *byte* offsets: https://docs.bsky.app/docs/advanced-guides/post-richtext
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fimiscope.ingest.formats._common import first_json_value, is_partial
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile, iter_json_lines

PLATFORM = "bluesky"
_POST = "app.bsky.feed.post"
_REPOST = "app.bsky.feed.repost"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# time_us beyond 9999-12-31 would overflow datetime (OverflowError is no record error).
_MAX_US = 253_402_300_799_999_999
# DIDs and record keys go into AT-URIs and permalinks: a '/' or space in them would forge ids.
_DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2048}")
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_TAG = "app.bsky.richtext.facet#tag"
_LINK = "app.bsky.richtext.facet#link"
_MENTION = "app.bsky.richtext.facet#mention"
_EMBED_RECORD = "app.bsky.embed.record"
_EMBED_RECORD_MEDIA = "app.bsky.embed.recordWithMedia"
_INVALID_HANDLE = "handle.invalid"  # what the network shows for a handle that fails to verify


def _time_us(value: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _created(record: dict[str, Any], time_us: int) -> datetime:
    """``createdAt`` in UTC; a missing one falls back to the firehose time, a bad one rejects.

    ``createdAt`` is client-set and can be forged (back-dated posts), while ``time_us`` is
    when Jetstream saw the event; we keep the client's claim, as the other formats do.
    """
    value = record.get("createdAt")
    if value is None:
        return _time_us(time_us)
    if type(value) is not str:
        raise BadRecord(f"createdAt is not a string: {value!r}", "commit.record.createdAt")
    try:
        dt = datetime.fromisoformat(value)
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadRecord(f"bad createdAt {value!r}", "commit.record.createdAt") from exc


def _did_of(uri: str | None) -> str | None:
    """The DID in ``at://<did>/...``; ``None`` when the authority is a handle or absent."""
    if not uri or not uri.startswith("at://did:"):
        return None
    return uri[5:].split("/", 1)[0]


def _subject_uri(record: dict[str, Any]) -> str:
    subject = record.get("subject")
    uri = subject.get("uri") if type(subject) is dict else None
    if type(uri) is not str or not uri.startswith("at://"):
        raise BadRecord("subject.uri is missing or not an AT-URI", "commit.record.subject")
    return uri


def _str(value: Any) -> str | None:
    """A string field, or ``None`` for anything else (Arrow would refuse a non-string later)."""
    return value if type(value) is str else None


def _blob_cid(blob: Any) -> str | None:
    """A blob's CID: ``ref.$link`` (current) or ``cid`` (legacy blobs)."""
    if type(blob) is not dict:
        return None
    ref = blob.get("ref")
    if type(ref) is dict:
        return _str(ref.get("$link"))
    return _str(blob.get("cid"))


class _Embed:
    """What a post's embed contributes: a quoted post, an external link, media."""

    __slots__ = ("external", "media", "quote")

    def __init__(self, embed: Any) -> None:
        self.quote: str | None = None
        self.external: str | None = None
        self.media: list[tuple[str | None, str]] = []
        if type(embed) is not dict:
            raise BadRecord("embed is not an object", "commit.record.embed")
        kind = embed.get("$type")
        if kind == _EMBED_RECORD:
            self._quote(embed.get("record"))
        elif kind == _EMBED_RECORD_MEDIA:
            inner = embed.get("record")
            self._quote(inner.get("record") if type(inner) is dict else None)
            if type(embed.get("media")) is dict:
                self._media(embed["media"])
        else:
            self._media(embed)

    def _quote(self, ref: Any) -> None:
        uri = _str(ref.get("uri")) if type(ref) is dict else None
        # An embedded list, feed or starter pack is not a quoted post.
        if uri and uri.startswith("at://") and f"/{_POST}/" in uri:
            self.quote = uri

    def _media(self, embed: dict[str, Any]) -> None:
        kind = embed.get("$type")
        if kind == "app.bsky.embed.images":
            for image in embed.get("images") or ():
                if type(image) is dict:
                    self.media.append((_blob_cid(image.get("image")), "photo"))
        elif kind == "app.bsky.embed.video":
            self.media.append((_blob_cid(embed.get("video")), "video"))
        elif kind == "app.bsky.embed.external":
            external = embed.get("external")
            self.external = _str(external.get("uri")) if type(external) is dict else None


class Jetstream:
    """The ``jetstream`` format: see the module docstring."""

    name = "jetstream"
    platform = PLATFORM
    description = "Bluesky Jetstream JSON Lines"
    expected = (
        'Jetstream events, one JSON object per line: {"did", "time_us", '
        '"kind": "commit"|"identity"|"account", ...}'
    )

    def __init__(self) -> None:
        self._collections = {
            _POST: self._post,
            _REPOST: self._repost,
            "app.bsky.feed.like": self._like,
            "app.bsky.graph.follow": self._follow,
            "app.bsky.actor.profile": self._profile,
        }

    def sniff(self, source: SourceFile) -> float:
        value = first_json_value(source)
        if value is None:
            return 0.0
        if is_partial(value):
            return 0.8 if value.has_keys("did", "time_us", "kind") else 0.0
        if isinstance(value, dict) and "did" in value and "time_us" in value:
            return 0.95 if value.get("kind") in ("commit", "identity", "account") else 0.6
        return 0.0

    # -- parsing: the hot loop ------------------------------------------------------------------
    def parse(self, source: SourceFile, sink: Sink) -> None:
        cursor = -1
        commit = self._commit
        for line, offset, raw, event in iter_json_lines(source, sink):
            with sink.record(line=line, byte_offset=offset, excerpt=raw):
                if type(event) is not dict:
                    raise BadRecord(f"expected a JSON object, got {type(event).__name__}")
                time_us = event.get("time_us")
                if time_us is None:
                    raise BadRecord("not a Jetstream event: no 'time_us'", "time_us")
                if type(time_us) is not int or not 0 <= time_us <= _MAX_US:
                    raise BadRecord(
                        f"time_us is not a time in microseconds: {time_us!r}", "time_us"
                    )
                # The cursor is how far the stream was read, so it moves even for rejects.
                if time_us > cursor:
                    cursor = time_us
                did = event.get("did")
                if type(did) is not str or not _DID.fullmatch(did):
                    raise BadRecord(f"did is not a DID: {did!r}", "did")
                kind = event.get("kind")
                if kind == "commit":
                    commit(event.get("commit"), did, time_us, sink)
                elif kind == "identity":
                    self._identity(event.get("identity"), did, sink)
                elif kind == "account":
                    sink.account(PLATFORM, did)
                else:
                    raise BadRecord(f"unknown event kind {kind!r}", "kind")
        if cursor >= 0:
            sink.cursor = str(cursor)

    def _commit(self, commit: Any, did: str, time_us: int, sink: Sink) -> None:
        if type(commit) is not dict:
            raise BadRecord("a commit event without a commit object", "commit")
        operation = commit.get("operation")
        if operation == "delete":
            return  # counted; see the module docstring
        if operation != "create" and operation != "update":
            raise BadRecord(f"unknown commit operation {operation!r}", "commit.operation")
        handler = self._collections.get(commit.get("collection"))
        if handler is None:
            return  # a collection we do not model: counted, not a reject
        rkey = commit.get("rkey")
        if type(rkey) is not str or not _RKEY.fullmatch(rkey):
            raise BadRecord(f"bad record key {rkey!r}", "commit.rkey")
        record = commit.get("record")
        if type(record) is not dict:
            raise BadRecord(f"a {operation} without a record", "commit.record")
        handler(did, rkey, record, time_us, sink)

    def _identity(self, identity: Any, did: str, sink: Sink) -> None:
        handle = _str(identity.get("handle")) if type(identity) is dict else None
        sink.account(PLATFORM, did, handle=None if handle == _INVALID_HANDLE else handle)

    # -- collections ----------------------------------------------------------------------------
    def _post(self, did: str, rkey: str, record: dict[str, Any], time_us: int, sink: Sink) -> None:
        uri = f"at://{did}/{_POST}/{rkey}"
        text = record.get("text")
        if text is not None and type(text) is not str:
            raise BadRecord("text is not a string", "commit.record.text")
        created = _created(record, time_us)
        parent = root = None
        reply = record.get("reply")
        if reply is not None:
            parent, root = _reply_uris(reply)
        embed = _Embed(record["embed"]) if record.get("embed") is not None else None
        quote = embed.quote if embed else None
        kind, ref = ("reply", parent) if parent else ("quote", quote) if quote else ("post", None)
        langs = record.get("langs")
        lang = _str(langs[0]) if type(langs) is list and langs else None
        sink.post(
            PLATFORM,
            uri,
            account_id=did,
            created_at=created,
            kind=kind,
            ref_post_id=ref,
            ref_account_id=_did_of(ref),
            conversation_id=root or uri,
            text=text,
            lang=lang,
            url=f"https://bsky.app/profile/{did}/post/{rkey}",
        )
        for target in (parent, quote):
            if target:
                # Known only by reference until its own event is ingested (it then replaces this).
                sink.post(
                    PLATFORM, target, account_id=_did_of(target), created_at=None, is_stub=True
                )
        if parent and quote:
            sink.ref(PLATFORM, uri, "quote", quote, _did_of(quote))
        links: list[str] = []
        facets = record.get("facets")
        if facets and text:
            links = _facets(uri, text, facets, sink)
        if embed is not None:
            if embed.external and embed.external not in links:
                links.append(embed.external)
            for i, (cid, media_type) in enumerate(embed.media):
                sink.media(PLATFORM, uri, i, media_key=cid, media_type=media_type)
        for i, link in enumerate(links):
            sink.url(PLATFORM, uri, i, link)

    def _repost(
        self, did: str, rkey: str, record: dict[str, Any], time_us: int, sink: Sink
    ) -> None:
        subject = _subject_uri(record)
        author = _did_of(subject)
        sink.post(
            PLATFORM,
            f"at://{did}/{_REPOST}/{rkey}",
            account_id=did,
            created_at=_created(record, time_us),
            kind="repost",
            ref_post_id=subject,
            ref_account_id=author,
        )
        sink.post(PLATFORM, subject, account_id=author, created_at=None, is_stub=True)

    def _like(self, did: str, rkey: str, record: dict[str, Any], time_us: int, sink: Sink) -> None:
        subject = _subject_uri(record)
        sink.engagement(
            PLATFORM,
            did,
            "like",
            target_post_id=subject,
            target_account_id=_did_of(subject),
            at=_created(record, time_us),
        )

    def _follow(
        self, did: str, rkey: str, record: dict[str, Any], time_us: int, sink: Sink
    ) -> None:
        subject = record.get("subject")
        if type(subject) is not str or not _DID.fullmatch(subject):
            raise BadRecord(f"follow subject is not a DID: {subject!r}", "commit.record.subject")
        sink.engagement(
            PLATFORM, did, "follow", target_account_id=subject, at=_created(record, time_us)
        )

    def _profile(
        self, did: str, rkey: str, record: dict[str, Any], time_us: int, sink: Sink
    ) -> None:
        sink.account(
            PLATFORM,
            did,
            display_name=_str(record.get("displayName")),
            description=_str(record.get("description")),
            default_profile_image=record.get("avatar") is None,
        )


def _reply_uris(reply: Any) -> tuple[str | None, str | None]:
    if type(reply) is not dict:
        raise BadRecord("reply is not an object", "commit.record.reply")
    refs = []
    for part in ("parent", "root"):
        ref = reply.get(part)
        uri = ref.get("uri") if type(ref) is dict else None
        if type(uri) is not str or not uri.startswith("at://"):
            raise BadRecord(
                f"reply.{part}.uri is missing or not an AT-URI", f"commit.record.reply.{part}"
            )
        refs.append(uri)
    return refs[0], refs[1]


def _facets(uri: str, text: str, facets: Any, sink: Sink) -> list[str]:
    """Write tags and mentions; return the links (merged with the embed's by the caller).

    Offsets count UTF-8 bytes, not characters: ``byteStart`` 3 in ``"参院選"`` is the start of
    ``院``. A facet whose range is outside the text, reversed, or cuts a character is skipped,
    not rejected: clients write such facets and the post itself is still good.
    """
    data = text.encode()
    size = len(data)
    links: list[str] = []
    tags = mentions = 0
    for facet in facets if type(facets) is list else ():
        index = facet.get("index") if type(facet) is dict else None
        features = facet.get("features") if type(index) is dict else None
        if type(features) is not list:
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= size:
            continue
        try:
            span = data[start:end].decode()
        except UnicodeDecodeError:
            continue
        for feature in features:
            if type(feature) is not dict:
                continue
            kind = feature.get("$type")
            if kind == _TAG and type(feature.get("tag")) is str:
                sink.hashtag(PLATFORM, uri, tags, feature["tag"])
                tags += 1
            elif kind == _LINK and type(feature.get("uri")) is str:
                if feature["uri"] not in links:
                    links.append(feature["uri"])
            elif kind == _MENTION and type(feature.get("did")) is str:
                sink.mention(PLATFORM, uri, mentions, span.lstrip("@"), feature["did"])
                mentions += 1
    return links


register(Jetstream())
