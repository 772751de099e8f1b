"""X (Twitter) API v2 responses: search/timeline pages, flattened tweets, and the
liking-users / retweeted-by / liked-tweets endpoints, as JSON Lines or one JSON document.

Shapes follow the v2 data dictionary: ``data`` (tweets or users), ``includes.users``,
``includes.tweets`` (referenced tweets), ``includes.media``, ``errors`` (deleted or withheld
references), and twarc2's ``__twarc`` request metadata, whose URL is the only place an
engagement page names the tweet or user it is about.
"""

from __future__ import annotations

import collections
import queue
import re
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from fimiscope.ingest.formats import x_v2_arrow, x_v2_sql
from fimiscope.ingest.formats._common import as_int, first_json_value, is_partial
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import BadRecord, Sink
from fimiscope.ingest.source import SourceFile, iter_json_lines

PLATFORM = "x"
_REF_KIND = {"retweeted": "repost", "replied_to": "reply", "quoted": "quote"}
_KIND_ORDER = ("repost", "reply", "quote")
_ENDPOINT = re.compile(
    r"/2/(?P<what>tweets|users)/(?P<id>\d+)/(?P<rel>liking_users|retweeted_by|liked_tweets|"
    r"following|followers|quote_tweets)"
)
_DEFAULT_IMAGE = "default_profile"


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRecord(f"bad created_at {value!r}") from exc


class XApiV2:
    name = "x-v2"
    platform = PLATFORM
    description = "X API v2 JSON"
    expected = (
        "X API v2 responses (objects with 'data' and optional 'includes'), "
        "one per line or as one JSON document"
    )

    def sniff(self, source: SourceFile) -> float:
        value = first_json_value(source)
        if value is None:
            return 0.0
        if is_partial(value):
            return (
                0.7
                if value.has_keys("data")
                and (value.has_keys("author_id") or value.has_keys("username"))
                else 0.0
            )
        if isinstance(value, list):
            value = value[0] if value and isinstance(value[0], dict) else None
        if not isinstance(value, dict):
            return 0.0
        data = value.get("data")
        if isinstance(data, list | dict):
            item = data[0] if isinstance(data, list) and data else data
            if isinstance(item, dict) and (
                "author_id" in item or "username" in item or "edit_history_tweet_ids" in item
            ):
                return 0.95
            if data == [] and ("meta" in value or "__twarc" in value):
                return 0.8
            return 0.3
        if "author_id" in value and "id" in value and "text" in value and "user" not in value:
            return 0.9  # a flattened tweet (twarc2 flatten)
        return 0.0

    # -- parsing ----------------------------------------------------------------------------------
    def parse(self, source: SourceFile, sink: Sink) -> None:
        value = first_json_value(source)
        if sink.con is not None and isinstance(value, dict) and isinstance(value.get("data"), list):
            self._parse_chunked(source, sink)
            return
        try:
            orjson.loads(source.first_line().lstrip(b"\xef\xbb\xbf"))
            line_based = True
        except orjson.JSONDecodeError:
            line_based = False
        if line_based:
            for number, offset, raw, obj in iter_json_lines(source, sink):
                self._object(obj, sink, number, offset, raw)
        else:
            doc = source.read_json()
            items = doc if isinstance(doc, list) else [doc]
            for i, obj in enumerate(items):
                self._object(obj, sink, None, None, None, where=f"[{i}]")

    def _parse_chunked(
        self, source: SourceFile, sink: Sink, chunk_bytes: int | None = None
    ) -> None:
        """Pages go through the fast paths block by block; a block with anything irregular in
        it is parsed here in Python instead, record by record.

        A thread cuts the file into blocks of whole lines; two workers stage blocks at once,
        each with the Arrow path (``x_v2_arrow``), else the DuckDB path (``x_v2_sql``, on its
        own cursor). When the sink can stage rows itself from any thread
        (``sink.stage_direct``), the workers also normalise and write what they staged. This
        thread takes the blocks in file order and parses in Python the ones both declined."""
        size = chunk_bytes or x_v2_sql.CHUNK_BYTES
        workers = 2
        direct = sink.stage_direct
        with tempfile.TemporaryDirectory(prefix="fimiscope-x-v2-") as tmp:
            cursors: queue.SimpleQueue[Any] = queue.SimpleQueue()
            for _ in range(workers):
                cur = sink.con.cursor()
                x_v2_sql.prepare_cursor(cur)
                cursors.put(cur)

            def stage(k: int, block: bytes) -> tuple[int, list[tuple[str, Any]] | None] | Path:
                base = k << 43
                result = x_v2_arrow.stage_block(block, base)
                if result is None:
                    path = x_v2_sql.write_block(block, Path(tmp) / f"chunk{k:05d}.jsonl")
                    cur = cursors.get()
                    try:
                        result = x_v2_sql.stage_chunk(cur, str(path), base)
                    finally:
                        cursors.put(cur)
                    if result is None:
                        return path
                    path.unlink()
                records, tables = result
                if direct is None:
                    return records, tables
                for table, rows in tables:
                    direct(table, rows)
                return records, None

            blocks = x_v2_sql.read_blocks(source, size)
            pending: collections.deque[tuple[Future[Any], int, int, int]] = collections.deque()
            with ThreadPoolExecutor(workers, thread_name_prefix="fimiscope-x-v2") as pool:
                try:
                    for k, (block, line0, offset0) in enumerate(blocks):
                        pending.append((pool.submit(stage, k, block), k, line0, offset0))
                        del block
                        # at most `workers` blocks staging and one waiting: bounded memory
                        while len(pending) > workers:
                            self._take(pending.popleft(), sink)
                    while pending:
                        self._take(pending.popleft(), sink)
                finally:
                    for fut, *_ in pending:
                        fut.cancel()
                    blocks.close()
                    while not cursors.empty():
                        cursors.get().close()

    def _take(self, item: tuple[Future[Any], int, int, int], sink: Sink) -> None:
        """One staged block, in file order: count it, or parse it in Python."""
        fut, k, line0, offset0 = item
        result = fut.result()
        if isinstance(result, Path):
            sink.restart_sequence(k << 43)
            for number, offset, raw, obj in iter_json_lines(
                SourceFile(result), sink, line0, offset0
            ):
                self._object(obj, sink, number, offset, raw)
            sink.flush()
            result.unlink()
            return
        records, tables = result
        sink.records += records
        if tables is not None:
            for table, rows in tables:
                sink.emit(table, rows)
        elif sink.on_progress is not None:
            sink.on_progress()

    def _object(
        self,
        obj: Any,
        sink: Sink,
        line: int | None,
        offset: int | None,
        raw: bytes | None,
        where: str = "",
    ) -> None:
        if not isinstance(obj, dict):
            with sink.record(line=line, byte_offset=offset, excerpt=raw):
                raise BadRecord(f"expected a JSON object, got {type(obj).__name__}", where or None)
            return
        if "data" not in obj and "id" in obj and "text" in obj:
            self._flattened(obj, sink, line, offset, raw)
            return
        if "data" not in obj:
            with sink.record(line=line, byte_offset=offset, excerpt=raw):
                detail = obj.get("errors") or obj.get("title") or sorted(obj)[:5]
                raise BadRecord(f"a response without 'data': {str(detail)[:200]}", where or None)
            return
        includes = obj.get("includes") or {}
        users = {u["id"]: u for u in includes.get("users", ()) if isinstance(u, dict) and "id" in u}
        media = {m.get("media_key"): m for m in includes.get("media", ()) if isinstance(m, dict)}
        ref_tweets = {
            t["id"]: t for t in includes.get("tweets", ()) if isinstance(t, dict) and "id" in t
        }
        url = (obj.get("__twarc") or {}).get("url") or ""
        endpoint = _ENDPOINT.search(url)
        data = obj["data"]
        items = data if isinstance(data, list) else [data]
        for uid, user in users.items():
            with sink.record(
                line=line, byte_offset=offset, excerpt=raw, location=f"{where}includes.users[{uid}]"
            ):
                self._user(user, sink)
        ctx = (users, media, ref_tweets)
        if endpoint and endpoint["rel"] in (
            "liking_users",
            "retweeted_by",
            "following",
            "followers",
        ):
            for i, user in enumerate(items):
                with sink.record(
                    line=line, byte_offset=offset, excerpt=raw, location=f"{where}data[{i}]"
                ):
                    self._user(user, sink)
                    self._engagement(endpoint, user["id"], sink)
            return
        for i, tweet in enumerate(items):
            with sink.record(
                line=line, byte_offset=offset, excerpt=raw, location=f"{where}data[{i}]"
            ):
                self._tweet(tweet, sink, ctx)
                if endpoint and endpoint["rel"] == "liked_tweets":
                    sink.engagement(
                        PLATFORM,
                        endpoint["id"],
                        "like",
                        target_post_id=tweet["id"],
                        target_account_id=tweet.get("author_id"),
                    )
        for tid, tweet in ref_tweets.items():
            with sink.record(
                line=line,
                byte_offset=offset,
                excerpt=raw,
                location=f"{where}includes.tweets[{tid}]",
            ):
                self._tweet(tweet, sink, ctx)

    def _engagement(self, endpoint: re.Match[str], user_id: str, sink: Sink) -> None:
        rel, target = endpoint["rel"], endpoint["id"]
        if rel == "liking_users":
            sink.engagement(PLATFORM, user_id, "like", target_post_id=target)
        elif rel == "retweeted_by":
            sink.engagement(PLATFORM, user_id, "repost", target_post_id=target)
        elif rel == "following":  # users that `target` follows
            sink.engagement(PLATFORM, target, "follow", target_account_id=user_id)
        else:  # followers of `target`
            sink.engagement(PLATFORM, user_id, "follow", target_account_id=target)

    def _flattened(
        self,
        tweet: dict[str, Any],
        sink: Sink,
        line: int | None,
        offset: int | None,
        raw: bytes | None,
    ) -> None:
        """twarc2 ``flatten`` output: one tweet with ``author`` and expanded references."""
        with sink.record(line=line, byte_offset=offset, excerpt=raw):
            users: dict[str, Any] = {}
            refs: dict[str, Any] = {}
            if isinstance(tweet.get("author"), dict):
                users[tweet["author"]["id"]] = tweet["author"]
            for ref in tweet.get("referenced_tweets") or ():
                if isinstance(ref, dict) and "text" in ref:
                    refs[ref["id"]] = ref
                    if isinstance(ref.get("author"), dict):
                        users[ref["author"]["id"]] = ref["author"]
            for user in users.values():
                self._user(user, sink)
            media = {
                m.get("media_key"): m
                for m in (tweet.get("attachments") or {}).get("media") or ()
                if isinstance(m, dict)
            }
            ctx = (users, media, refs)
            self._tweet(tweet, sink, ctx)
            for ref in refs.values():
                self._tweet(ref, sink, ctx)

    def _user(self, u: dict[str, Any], sink: Sink) -> None:
        m = u.get("public_metrics") or {}
        image = u.get("profile_image_url")
        sink.account(
            PLATFORM,
            u["id"],
            handle=u.get("username"),
            display_name=u.get("name"),
            description=u.get("description"),
            location=u.get("location") or None,
            created_at=_time(u.get("created_at")),
            followers_count=as_int(m.get("followers_count")),
            following_count=as_int(m.get("following_count")),
            posts_count=as_int(m.get("tweet_count")),
            verified=u.get("verified"),
            protected=u.get("protected"),
            default_profile_image=(_DEFAULT_IMAGE in image) if image else None,
            profile_image_url=image,
        )

    def _tweet(
        self,
        t: dict[str, Any],
        sink: Sink,
        ctx: tuple[dict[str, Any], dict[Any, Any], dict[str, Any]],
    ) -> None:
        users, media, ref_tweets = ctx
        tid = t["id"]
        author = t.get("author_id")
        refs: dict[str, str] = {}
        for ref in t.get("referenced_tweets") or ():
            kind = _REF_KIND.get(ref["type"])
            if kind is None:
                raise BadRecord(f"unknown referenced_tweets type {ref['type']!r}")
            refs[kind] = ref["id"]
        kind = next((k for k in _KIND_ORDER if k in refs), "post")
        note = t.get("note_tweet") or {}
        text = note.get("text") or t.get("text")
        entities = note.get("entities") or t.get("entities") or {}
        user = users.get(author) if author else None
        username = user.get("username") if user else None
        withheld = t.get("withheld") or {}
        metrics = t.get("public_metrics") or {}
        ref_post = refs.get(kind)

        def ref_author(kind_: str) -> str | None:
            if kind_ == "reply" and t.get("in_reply_to_user_id"):
                return t["in_reply_to_user_id"]
            rt = ref_tweets.get(refs.get(kind_, ""))
            return rt.get("author_id") if rt else None

        sink.post(
            PLATFORM,
            tid,
            account_id=author,
            created_at=_time(t.get("created_at")),
            kind=kind,
            ref_post_id=ref_post,
            ref_account_id=ref_author(kind) if ref_post else None,
            conversation_id=t.get("conversation_id"),
            text=text,
            lang=t.get("lang"),
            client=t.get("source"),
            like_count=as_int(metrics.get("like_count")),
            repost_count=as_int(metrics.get("retweet_count")),
            reply_count=as_int(metrics.get("reply_count")),
            quote_count=as_int(metrics.get("quote_count")),
            view_count=as_int(metrics.get("impression_count")),
            is_truncated=bool(kind == "repost" and text and text.endswith("…") and not note),
            withheld=",".join(withheld.get("country_codes") or ()) or None,
            url=f"https://x.com/{username or 'i/web'}/status/{tid}",
        )
        for other in _KIND_ORDER:
            if other != kind and other in refs:
                sink.ref(PLATFORM, tid, other, refs[other], ref_author(other))
        for kind_, rid in refs.items():
            if rid not in ref_tweets:
                # Referenced but not included (deleted, protected or simply not expanded).
                sink.post(
                    PLATFORM, rid, account_id=ref_author(kind_), created_at=None, is_stub=True
                )
        for i, u in enumerate(entities.get("urls") or ()):
            sink.url(PLATFORM, tid, i, u.get("url"), u.get("unwound_url") or u.get("expanded_url"))
        for i, h in enumerate(entities.get("hashtags") or ()):
            sink.hashtag(PLATFORM, tid, i, h.get("tag"))
        for i, m in enumerate(entities.get("mentions") or ()):
            sink.mention(PLATFORM, tid, i, m.get("username"), m.get("id"))
        for i, key in enumerate((t.get("attachments") or {}).get("media_keys") or ()):
            item = media.get(key) or {}
            sink.media(
                PLATFORM,
                tid,
                i,
                media_key=key,
                media_type=item.get("type"),
                url=item.get("url") or item.get("preview_image_url"),
            )


register(XApiV2())
