"""The columnar sink that format parsers write canonical rows into.

A parser calls :meth:`Sink.post`, :meth:`Sink.account`, ... for each thing it finds, inside
``with sink.record(...)`` for each record of the file. A record that raises ``ValueError``,
``KeyError``, ``TypeError`` or ``AttributeError`` is undone as a whole and quarantined in
``rejects`` with its line, byte offset and reason; the rest of the file goes on. Rows are
buffered in Python lists and flushed as Arrow batches to ``on_batch`` (the ingest stages them
as Parquet files, see :mod:`fimiscope.ingest.staging`), so memory stays bounded whatever the
file size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

# Staging columns per canonical table, with Arrow types. `_seq` orders rows within a file.
# Normalised columns (text_norm, handle_norm, tag_norm, url_norm, domain) are not part of a
# parser's rows: staging adds them with the vectorised functions of `normalise`, for every
# format alike (see `staging.DERIVED`).
STAGE_SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema(
        [
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("handle", pa.string()),
            ("display_name", pa.string()),
            ("description", pa.string()),
            ("location", pa.string()),
            ("created_at", _TS),
            ("followers_count", pa.int64()),
            ("following_count", pa.int64()),
            ("posts_count", pa.int64()),
            ("verified", pa.bool_()),
            ("protected", pa.bool_()),
            ("default_profile_image", pa.bool_()),
            ("profile_image_url", pa.string()),
            ("lang", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "posts": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("account_id", pa.string()),
            ("created_at", _TS),
            ("kind", pa.string()),
            ("ref_post_id", pa.string()),
            ("ref_account_id", pa.string()),
            ("conversation_id", pa.string()),
            ("text", pa.string()),
            ("lang", pa.string()),
            ("client", pa.string()),
            ("like_count", pa.int64()),
            ("repost_count", pa.int64()),
            ("reply_count", pa.int64()),
            ("quote_count", pa.int64()),
            ("view_count", pa.int64()),
            ("is_truncated", pa.bool_()),
            ("is_stub", pa.bool_()),
            ("withheld", pa.string()),
            ("url", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "post_refs": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("ref_type", pa.string()),
            ("ref_post_id", pa.string()),
            ("ref_account_id", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "engagements": pa.schema(
        [
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("kind", pa.string()),
            ("target_post_id", pa.string()),
            ("target_account_id", pa.string()),
            ("at", _TS),
            ("_seq", pa.int64()),
        ]
    ),
    "post_urls": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("position", pa.int32()),
            ("url", pa.string()),
            ("expanded_url", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "post_hashtags": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("position", pa.int32()),
            ("tag", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "post_mentions": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("position", pa.int32()),
            ("handle", pa.string()),
            ("mentioned_account_id", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "post_media": pa.schema(
        [
            ("platform", pa.string()),
            ("post_id", pa.string()),
            ("position", pa.int32()),
            ("media_key", pa.string()),
            ("media_type", pa.string()),
            ("url", pa.string()),
            ("phash", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
    "rejects": pa.schema(
        [
            ("line", pa.int64()),
            ("byte_offset", pa.int64()),
            ("location", pa.string()),
            ("reason", pa.string()),
            ("excerpt", pa.string()),
            ("_seq", pa.int64()),
        ]
    ),
}

POST_KINDS = frozenset({"post", "repost", "quote", "reply"})
RECORD_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)
EXCERPT_CHARS = 500


class BadRecord(ValueError):
    """Raised by a parser for a record it cannot use; ``location`` says where inside it."""

    def __init__(self, reason: str, location: str | None = None) -> None:
        self.location = location
        super().__init__(reason)


class _Record:
    """Context of one source record: undo-and-quarantine on error."""

    __slots__ = ("_mark", "byte_offset", "excerpt", "line", "location", "sink")

    def __init__(
        self,
        sink: Sink,
        line: int | None,
        byte_offset: int | None,
        excerpt: bytes | str | None,
        location: str | None,
    ) -> None:
        self.sink = sink
        self.line = line
        self.byte_offset = byte_offset
        self.excerpt = excerpt
        self.location = location
        self._mark = 0

    def __enter__(self) -> _Record:
        # Rows are numbered in the order they are added, so the current number marks where
        # this record's rows begin in every table (see `Sink._undo`).
        self._mark = self.sink._seq
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        sink = self.sink
        if exc is None:
            sink.records += 1
            if sink._pending >= sink.batch_size:
                sink.flush()
            return False
        if not isinstance(exc, RECORD_ERRORS):
            return False
        sink._undo(self._mark)
        location = getattr(exc, "location", None) or self.location
        sink.reject(
            _reason(exc),
            line=self.line,
            byte_offset=self.byte_offset,
            location=location,
            excerpt=self.excerpt,
        )
        sink.records += 1
        return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BadRecord):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


class Sink:
    """Buffers canonical rows column by column and hands Arrow batches to ``on_batch``.

    Parameters
    ----------
    on_batch
        Called with ``(table_name, pyarrow.Table)`` for each flushed batch.
    batch_size
        Rows (over all tables) to buffer before flushing.
    """

    def __init__(
        self,
        on_batch: Callable[[str, pa.Table], None],
        *,
        batch_size: int = 100_000,
        con: Any = None,
    ) -> None:
        self._on_batch = on_batch
        self.batch_size = batch_size
        self._cols: dict[str, dict[str, list[Any]]] = {
            t: {f.name: [] for f in schema} for t, schema in STAGE_SCHEMAS.items()
        }
        # Per table: the bound `append` of each column list, `_seq` last.
        self._appends: dict[str, tuple[Callable[[Any], None], ...]] = {
            t: tuple(values.append for values in cols.values()) for t, cols in self._cols.items()
        }
        self._arity = {t: len(a) - 1 for t, a in self._appends.items()}
        self._seq = 0
        self._pending = 0
        self.records = 0
        self.rejected = 0
        self.cursor: str | None = None
        # For formats with a SQL fast path: the store's connection (for `con.cursor()`).
        self.con = con
        # Set by the ingest: stages a fast path's finished rows (staging columns, normalised
        # columns not yet added) from any thread, bypassing the buffers; and reports progress.
        self.stage_direct: Callable[[str, pa.Table], None] | None = None
        self.on_progress: Callable[[], None] | None = None

    # -- record scope -------------------------------------------------------------------------
    def record(
        self,
        *,
        line: int | None = None,
        byte_offset: int | None = None,
        excerpt: bytes | str | None = None,
        location: str | None = None,
    ) -> _Record:
        """Scope one source record: on a bad-record error everything it added is undone."""
        return _Record(self, line, byte_offset, excerpt, location)

    def _add(self, table: str, values: tuple[Any, ...]) -> None:
        appends = self._appends[table]
        if len(values) != self._arity[table]:
            raise TypeError(f"{table} rows have {self._arity[table]} values, got {len(values)}")
        self._seq = seq = self._seq + 1
        for append, v in zip(appends, values):  # noqa: B905 - lengths checked above
            append(v)
        appends[-1](seq)
        self._pending += 1

    def _undo(self, mark: int) -> None:
        """Drop the buffered rows numbered above ``mark`` (those of a failed record)."""
        for cols in self._cols.values():
            seqs = cols["_seq"]
            keep = len(seqs)
            while keep and seqs[keep - 1] > mark:
                keep -= 1
            if keep < len(seqs):
                for values in cols.values():
                    del values[keep:]

    # -- rows -----------------------------------------------------------------------------------
    def account(
        self,
        platform: str,
        account_id: str,
        *,
        handle: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        location: str | None = None,
        created_at: datetime | None = None,
        followers_count: int | None = None,
        following_count: int | None = None,
        posts_count: int | None = None,
        verified: bool | None = None,
        protected: bool | None = None,
        default_profile_image: bool | None = None,
        profile_image_url: str | None = None,
        lang: str | None = None,
    ) -> None:
        if not account_id:
            raise BadRecord("account without an id")
        self._add(
            "accounts",
            (
                platform,
                str(account_id),
                handle,
                display_name,
                description,
                location,
                created_at,
                followers_count,
                following_count,
                posts_count,
                verified,
                protected,
                default_profile_image,
                profile_image_url,
                lang,
            ),
        )

    def post(
        self,
        platform: str,
        post_id: str,
        *,
        account_id: str | None,
        created_at: datetime | None,
        kind: str = "post",
        ref_post_id: str | None = None,
        ref_account_id: str | None = None,
        conversation_id: str | None = None,
        text: str | None = None,
        lang: str | None = None,
        client: str | None = None,
        like_count: int | None = None,
        repost_count: int | None = None,
        reply_count: int | None = None,
        quote_count: int | None = None,
        view_count: int | None = None,
        is_truncated: bool = False,
        is_stub: bool = False,
        withheld: str | None = None,
        url: str | None = None,
    ) -> None:
        if not post_id:
            raise BadRecord("post without an id")
        if kind not in POST_KINDS:
            raise BadRecord(f"unknown post kind {kind!r}")
        if kind != "post" and not ref_post_id:
            raise BadRecord(f"a {kind} without the post it refers to")
        self._add(
            "posts",
            (
                platform,
                str(post_id),
                None if account_id is None else str(account_id),
                created_at,
                kind,
                ref_post_id,
                ref_account_id,
                conversation_id,
                text,
                lang,
                client,
                like_count,
                repost_count,
                reply_count,
                quote_count,
                view_count,
                is_truncated,
                is_stub,
                withheld,
                url,
            ),
        )
        if ref_post_id and kind != "post":
            self._add("post_refs", (platform, str(post_id), kind, str(ref_post_id), ref_account_id))

    def ref(
        self,
        platform: str,
        post_id: str,
        ref_type: str,
        ref_post_id: str,
        ref_account_id: str | None = None,
    ) -> None:
        """A further reference (e.g. the quote inside a reply); post() makes the primary one."""
        if ref_type not in ("repost", "quote", "reply"):
            raise BadRecord(f"unknown reference type {ref_type!r}")
        if ref_post_id:
            self._add(
                "post_refs", (platform, str(post_id), ref_type, str(ref_post_id), ref_account_id)
            )

    def engagement(
        self,
        platform: str,
        account_id: str,
        kind: str,
        *,
        target_post_id: str | None = None,
        target_account_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        if not account_id:
            raise BadRecord(f"{kind} without the acting account")
        if not target_post_id and not target_account_id:
            raise BadRecord(f"{kind} without a target")
        self._add(
            "engagements", (platform, str(account_id), kind, target_post_id, target_account_id, at)
        )

    def url(
        self,
        platform: str,
        post_id: str,
        position: int,
        url: str | None,
        expanded_url: str | None = None,
    ) -> None:
        """A link. Links that normalise to nothing (empty, not http) are dropped at merge:
        an empty URL must never "match" another."""
        if not url and not expanded_url:
            return
        self._add("post_urls", (platform, str(post_id), position, url, expanded_url))

    def hashtag(self, platform: str, post_id: str, position: int, tag: str | None) -> None:
        if not tag:
            return
        self._add("post_hashtags", (platform, str(post_id), position, tag))

    def mention(
        self,
        platform: str,
        post_id: str,
        position: int,
        handle: str | None,
        account_id: str | None = None,
    ) -> None:
        if not handle and not account_id:
            return
        self._add("post_mentions", (platform, str(post_id), position, handle, account_id))

    def media(
        self,
        platform: str,
        post_id: str,
        position: int,
        *,
        media_key: str | None,
        media_type: str | None = None,
        url: str | None = None,
        phash: str | None = None,
    ) -> None:
        if not media_key and not url:
            return
        self._add(
            "post_media", (platform, str(post_id), position, media_key, media_type, url, phash)
        )

    def reject(
        self,
        reason: str,
        *,
        line: int | None = None,
        byte_offset: int | None = None,
        location: str | None = None,
        excerpt: bytes | str | None = None,
    ) -> None:
        if isinstance(excerpt, bytes):
            excerpt = excerpt[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
        if excerpt is not None:
            excerpt = excerpt[:EXCERPT_CHARS]
        self._add("rejects", (line, byte_offset, location, reason, excerpt))
        self.rejected += 1

    def emit(self, table: str, rows: pa.Table) -> None:
        """Hand over rows a fast path built itself (columns in staging order)."""
        self.flush()
        if rows.num_rows:
            self._on_batch(table, rows)

    def restart_sequence(self, base: int) -> None:
        """Continue row numbering from ``base`` (keeps chunks of one file in file order)."""
        if base < self._seq:
            self.flush()  # buffered rows stay numbered in order (see `_undo`)
        self._seq = base

    # -- flushing -------------------------------------------------------------------------------
    def flush(self) -> None:
        for table, cols in self._cols.items():
            if not cols["_seq"]:
                continue
            batch = pa.table(cols, schema=STAGE_SCHEMAS[table])
            for values in cols.values():
                values.clear()
            self._on_batch(table, batch)
        self._pending = 0
