"""The fast path for X API v2 JSON Lines of response pages, in DuckDB's native JSON reader.

It produces exactly the staging rows that :class:`~fimiscope.ingest.formats.x_v2.XApiV2`'s
Python parser produces, for files in which every line is a well-formed page. Anything else
(a malformed line, a line without ``data``, an item without an id or with a bad time, an
unknown reference type, ids repeated where the Python parser keeps only one of them) makes
:func:`stage_chunk` return ``None`` before it hands over a row, and the caller parses that
chunk in Python, which quarantines the bad records with their line numbers. A test checks
that both paths give identical stores.

Each page is parsed once (``xv2_pages``); its items are then flattened once into two narrow
tables, one row per user and one per tweet, carrying only the fields the staging rows need.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from fimiscope._sql import first_row
from fimiscope.ingest.source import SourceFile

_METRICS = (
    "public_metrics STRUCT(retweet_count BIGINT, reply_count BIGINT, like_count BIGINT, "
    "quote_count BIGINT, impression_count BIGINT, followers_count BIGINT, "
    "following_count BIGINT, tweet_count BIGINT)"
)
_ENTITIES = (
    "STRUCT(urls STRUCT(url VARCHAR, expanded_url VARCHAR, unwound_url VARCHAR)[], "
    "hashtags STRUCT(tag VARCHAR)[], mentions STRUCT(username VARCHAR, id VARCHAR)[])"
)
_TWEET_FIELDS = (
    "id VARCHAR, text VARCHAR, author_id VARCHAR, created_at VARCHAR, "
    "conversation_id VARCHAR, lang VARCHAR, source VARCHAR, in_reply_to_user_id VARCHAR, "
    f"referenced_tweets STRUCT(type VARCHAR, id VARCHAR)[], {_METRICS}, "
    f"entities {_ENTITIES}, attachments STRUCT(media_keys VARCHAR[]), "
    f"note_tweet STRUCT(text VARCHAR, entities {_ENTITIES}), "
    "withheld STRUCT(country_codes VARCHAR[])"
)
_USER_FIELDS = (
    "username VARCHAR, name VARCHAR, description VARCHAR, location VARCHAR, "
    "verified BOOLEAN, protected BOOLEAN, profile_image_url VARCHAR"
)
# `data` holds tweets, or users on the liking-users / retweeted-by / follows endpoints.
_COLUMNS = {
    "data": f"STRUCT({_TWEET_FIELDS}, {_USER_FIELDS})[]",
    "includes": f"STRUCT(users STRUCT(id VARCHAR, created_at VARCHAR, {_METRICS}, "
    f"{_USER_FIELDS})[], tweets STRUCT({_TWEET_FIELDS})[], "
    "media STRUCT(media_key VARCHAR, type VARCHAR, url VARCHAR, "
    "preview_image_url VARCHAR)[])",
    "__twarc": "STRUCT(url VARCHAR)",
}
_ENDPOINT = (
    r"/2/(tweets|users)/(\d+)/(liking_users|retweeted_by|liked_tweets|following|"
    r"followers|quote_tweets)"
)
_USER_RELS = "('liking_users', 'retweeted_by', 'following', 'followers')"

# Sections of a page, in the order the Python parser visits them (for `_seq`): 0 = includes.users,
# 1 = data, 2 = includes.tweets. Every row an item gives shares the item's number.
_SEQ = "$seq_base + (rec * 4 + section) * 1048576 + idx"
_MAX_RECS = 1 << 21  # pages per chunk within one chunk's `_seq` range (chunks are 2^43 apart)
_MAX_ITEMS = 1 << 20  # items per page section within one `_seq` step

_PAGES = """
CREATE OR REPLACE TEMP TABLE xv2_pages AS
SELECT ordinality AS rec, data, includes.users AS users, includes.tweets AS itweets,
       includes.media AS media,
       regexp_extract("__twarc".url, $re, 2) AS ep_id,
       coalesce(regexp_extract("__twarc".url, $re, 3), '') AS ep_rel
  FROM read_ndjson($path, columns = $columns, compression = 'none',
                   maximum_object_size = 16777216, format = 'newline_delimited')
  WITH ORDINALITY
"""

_USERS = f"""
CREATE OR REPLACE TEMP TABLE xv2_us AS
SELECT rec, section, idx, ep_id, ep_rel, u.id AS id, u.username AS username, u.name AS name,
       u.description AS description, u.location AS location, u.created_at AS created_at_s,
       try_cast(u.created_at AS TIMESTAMPTZ) AS created_at,
       u.public_metrics.followers_count AS followers_count,
       u.public_metrics.following_count AS following_count,
       u.public_metrics.tweet_count AS tweet_count, u.verified AS verified,
       u.protected AS protected, u.profile_image_url AS profile_image_url
  FROM (
    SELECT rec, 0 AS section, NULL::VARCHAR AS ep_id, NULL::VARCHAR AS ep_rel,
           unnest(users) AS u, generate_subscripts(users, 1) - 1 AS idx
      FROM xv2_pages
    UNION ALL
    SELECT rec, 1, ep_id, ep_rel, unnest(data)::STRUCT(id VARCHAR, created_at VARCHAR,
               {_METRICS}, {_USER_FIELDS}),
           generate_subscripts(data, 1) - 1
      FROM xv2_pages WHERE ep_rel IN {_USER_RELS}
  )
"""

_INCLUDED = """
CREATE OR REPLACE TEMP TABLE xv2_inc AS
SELECT rec, t.id AS id, t.author_id AS author_id
  FROM (SELECT rec, unnest(itweets) AS t FROM xv2_pages)
"""

_TWEETS = f"""
CREATE OR REPLACE TEMP TABLE xv2_tw AS
WITH items AS (
    SELECT rec, 1 AS section, ep_id, ep_rel, unnest(data)::STRUCT({_TWEET_FIELDS}) AS t,
           generate_subscripts(data, 1) - 1 AS idx
      FROM xv2_pages WHERE ep_rel NOT IN {_USER_RELS}
    UNION ALL
    SELECT rec, 2, NULL, NULL, unnest(itweets), generate_subscripts(itweets, 1) - 1
      FROM xv2_pages
), flat AS (
    SELECT rec, section, idx, ep_id, ep_rel, t.id AS id, t.author_id AS author_id,
           t.created_at AS created_at_s, try_cast(t.created_at AS TIMESTAMPTZ) AS created_at,
           t.conversation_id AS conversation_id,
           coalesce(nullif(t.note_tweet.text, ''), t.text) AS text, t.lang AS lang,
           t.source AS source, t.public_metrics.like_count AS like_count,
           t.public_metrics.retweet_count AS repost_count,
           t.public_metrics.reply_count AS reply_count,
           t.public_metrics.quote_count AS quote_count,
           t.public_metrics.impression_count AS view_count,
           t.note_tweet IS NULL AND coalesce(ends_with(t.text, '…'), false) AS trunc_if_repost,
           nullif(array_to_string(t.withheld.country_codes, ','), '') AS withheld,
           nullif(t.in_reply_to_user_id, '') AS in_reply_to,
           t.referenced_tweets AS refs,
           list_filter(t.referenced_tweets, lambda r: r.type = 'retweeted')[-1].id AS rt_id,
           list_filter(t.referenced_tweets, lambda r: r.type = 'replied_to')[-1].id AS re_id,
           list_filter(t.referenced_tweets, lambda r: r.type = 'quoted')[-1].id AS qt_id,
           -- (a CASE: coalesce over nested structs costs several times more)
           CASE WHEN t.note_tweet.entities IS NULL THEN t.entities
                ELSE t.note_tweet.entities END AS ents,
           t.attachments.media_keys AS media_keys
      FROM items
)
SELECT f.*,
       CASE WHEN rt_id IS NOT NULL THEN 'repost' WHEN re_id IS NOT NULL THEN 'reply'
            WHEN qt_id IS NOT NULL THEN 'quote' ELSE 'post' END AS kind,
       rt.author_id AS rt_author, rt.id IS NOT NULL AS rt_included,
       coalesce(in_reply_to, re.author_id) AS re_author, re.id IS NOT NULL AS re_included,
       qt.author_id AS qt_author, qt.id IS NOT NULL AS qt_included,
       nullif(u.username, '') AS username
  FROM flat f
  LEFT JOIN xv2_inc rt ON rt.rec = f.rec AND rt.id = f.rt_id
  LEFT JOIN xv2_inc re ON re.rec = f.rec AND re.id = f.re_id
  LEFT JOIN xv2_inc qt ON qt.rec = f.rec AND qt.id = f.qt_id
  LEFT JOIN (SELECT rec, id, username FROM xv2_us WHERE section = 0) u
         ON u.rec = f.rec AND u.id = f.author_id
"""

# Any row here means: not for the fast path (the Python parser decides, record by record).
_PROBLEMS = f"""
SELECT 'page without data' FROM xv2_pages WHERE data IS NULL
UNION ALL
SELECT 'too many' FROM xv2_pages
 WHERE rec >= {_MAX_RECS} OR len(data) >= {_MAX_ITEMS} OR len(users) >= {_MAX_ITEMS}
    OR len(itweets) >= {_MAX_ITEMS}
UNION ALL
SELECT 'user without id' FROM xv2_us WHERE id IS NULL OR id = ''
UNION ALL
SELECT 'tweet without id' FROM xv2_tw WHERE id IS NULL OR id = ''
UNION ALL
SELECT 'bad created_at' FROM xv2_us WHERE created_at_s IS NOT NULL AND created_at IS NULL
UNION ALL
SELECT 'bad created_at' FROM xv2_tw WHERE created_at_s IS NOT NULL AND created_at IS NULL
UNION ALL
SELECT 'bad reference' FROM xv2_tw
 WHERE refs IS NOT NULL AND (
       len(list_filter(refs, lambda r: r.type IS NULL
           OR r.type NOT IN ('retweeted', 'replied_to', 'quoted') OR r.id IS NULL
           OR r.id = '')) > 0
    -- one post referred to twice: the Python parser's rows would differ in order
    OR rt_id = re_id OR rt_id = qt_id OR re_id = qt_id)
UNION ALL
-- repeated ids inside a page's includes: the Python parser keeps one (a dict), so decide there
SELECT 'repeated user' FROM xv2_us WHERE section = 0 GROUP BY rec, id HAVING count(*) > 1
UNION ALL
SELECT 'repeated included tweet' FROM xv2_inc GROUP BY rec, id HAVING count(*) > 1
UNION ALL
SELECT 'repeated media' FROM (SELECT rec, unnest(media).media_key AS k FROM xv2_pages)
 GROUP BY rec, k HAVING count(*) > 1
LIMIT 1
"""

_STAGE_POSTS = f"""
SELECT 'x', id, author_id, created_at, kind,
       CASE kind WHEN 'repost' THEN rt_id WHEN 'reply' THEN re_id WHEN 'quote' THEN qt_id END,
       CASE kind WHEN 'repost' THEN rt_author WHEN 'reply' THEN re_author
                 WHEN 'quote' THEN qt_author END,
       conversation_id, text, lang, source, like_count, repost_count, reply_count,
       quote_count, view_count, kind = 'repost' AND trunc_if_repost, false, withheld,
       'https://x.com/' || coalesce(username, 'i/web') || '/status/' || id, {_SEQ}
  FROM xv2_tw
UNION ALL
-- referenced tweets not included in the page: stubs
SELECT 'x', rt_id, rt_author, NULL, 'post', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, false, true, NULL, NULL, {_SEQ}
  FROM xv2_tw WHERE rt_id IS NOT NULL AND NOT rt_included
UNION ALL
SELECT 'x', re_id, re_author, NULL, 'post', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, false, true, NULL, NULL, {_SEQ}
  FROM xv2_tw WHERE re_id IS NOT NULL AND NOT re_included
UNION ALL
SELECT 'x', qt_id, qt_author, NULL, 'post', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, false, true, NULL, NULL, {_SEQ}
  FROM xv2_tw WHERE qt_id IS NOT NULL AND NOT qt_included
"""

_STAGE_REFS = f"""
SELECT 'x', id, 'repost', rt_id, rt_author, {_SEQ} FROM xv2_tw WHERE rt_id IS NOT NULL
UNION ALL
SELECT 'x', id, 'reply', re_id, re_author, {_SEQ} FROM xv2_tw WHERE re_id IS NOT NULL
UNION ALL
SELECT 'x', id, 'quote', qt_id, qt_author, {_SEQ} FROM xv2_tw WHERE qt_id IS NOT NULL
"""

_STAGE_URLS = f"""
SELECT 'x', id, pos, u.url, ex, {_SEQ}
  FROM (SELECT rec, section, idx, id, u, pos,
               coalesce(nullif(u.unwound_url, ''), u.expanded_url) AS ex
          FROM (SELECT rec, section, idx, id, unnest(ents.urls) AS u,
                       generate_subscripts(ents.urls, 1) - 1 AS pos
                  FROM xv2_tw WHERE ents.urls IS NOT NULL))
 WHERE coalesce(u.url, '') <> '' OR coalesce(ex, '') <> ''
"""

_STAGE_HASHTAGS = f"""
SELECT 'x', id, pos, h.tag, {_SEQ}
  FROM (SELECT rec, section, idx, id, unnest(ents.hashtags) AS h,
               generate_subscripts(ents.hashtags, 1) - 1 AS pos
          FROM xv2_tw WHERE ents.hashtags IS NOT NULL)
 WHERE coalesce(h.tag, '') <> ''
"""

_STAGE_MENTIONS = f"""
SELECT 'x', id, pos, m.username, m.id, {_SEQ}
  FROM (SELECT rec, section, idx, id, unnest(ents.mentions) AS m,
               generate_subscripts(ents.mentions, 1) - 1 AS pos
          FROM xv2_tw WHERE ents.mentions IS NOT NULL)
 WHERE coalesce(m.username, '') <> '' OR coalesce(m.id, '') <> ''
"""

_STAGE_MEDIA = """
SELECT 'x', w.id, pos, key, mm.m.type, coalesce(nullif(mm.m.url, ''), mm.m.preview_image_url),
       NULL, $seq_base + (w.rec * 4 + w.section) * 1048576 + w.idx
  FROM (SELECT rec, section, idx, id, unnest(media_keys) AS key,
               generate_subscripts(media_keys, 1) - 1 AS pos
          FROM xv2_tw WHERE media_keys IS NOT NULL) w
  LEFT JOIN (SELECT rec, unnest(media) AS m FROM xv2_pages) mm
    ON mm.rec = w.rec AND mm.m.media_key = w.key
 WHERE coalesce(key, '') <> ''
    OR coalesce(nullif(mm.m.url, ''), mm.m.preview_image_url, '') <> ''
"""

_STAGE_ACCOUNTS = f"""
SELECT 'x', id, username, name, description, nullif(location, ''), created_at,
       followers_count, following_count, tweet_count, verified, protected,
       CASE WHEN profile_image_url IS NULL OR profile_image_url = '' THEN NULL
            ELSE contains(profile_image_url, 'default_profile') END,
       profile_image_url, NULL, {_SEQ}
  FROM xv2_us
"""

_STAGE_ENGAGEMENTS = f"""
SELECT 'x',
       CASE ep_rel WHEN 'following' THEN ep_id ELSE id END,
       CASE ep_rel WHEN 'liking_users' THEN 'like' WHEN 'retweeted_by' THEN 'repost'
                   ELSE 'follow' END,
       CASE WHEN ep_rel IN ('liking_users', 'retweeted_by') THEN ep_id END,
       CASE ep_rel WHEN 'following' THEN id WHEN 'followers' THEN ep_id END,
       NULL, {_SEQ}
  FROM xv2_us WHERE section = 1
UNION ALL
SELECT 'x', ep_id, 'like', id, author_id, NULL, {_SEQ}
  FROM xv2_tw WHERE section = 1 AND ep_rel = 'liked_tweets'
"""

_TEMPS = ("xv2_pages", "xv2_us", "xv2_inc", "xv2_tw")
_STAGES = (
    ("posts", _STAGE_POSTS),
    ("post_refs", _STAGE_REFS),
    ("accounts", _STAGE_ACCOUNTS),
    ("engagements", _STAGE_ENGAGEMENTS),
    ("post_urls", _STAGE_URLS),
    ("post_hashtags", _STAGE_HASHTAGS),
    ("post_mentions", _STAGE_MENTIONS),
    ("post_media", _STAGE_MEDIA),
)
CHUNK_BYTES = 32 * 1024 * 1024


def prepare_cursor(cur: duckdb.DuckDBPyConnection) -> None:
    """Settings for the fast path's own connection (row order is carried by `_seq`)."""
    cur.execute("SET TimeZone = 'UTC'")
    # cur.execute("SET preserve_insertion_order = false")


def stage_chunk(
    cur: duckdb.DuckDBPyConnection, path: str, seq_base: int
) -> tuple[int, list[tuple[str, pa.Table]]] | None:
    """Parse one chunk file of clean pages on ``cur`` (its own connection, so a failure
    aborts nothing). Return ``(records, [(stage table, rows)])`` or ``None`` when the chunk
    needs the Python parser."""
    try:
        cur.execute(_PAGES, {"path": path, "columns": _COLUMNS, "re": _ENDPOINT})
        cur.execute(_USERS)
        cur.execute(_INCLUDED)
        cur.execute(_TWEETS)
        if first_row(cur.execute(_PROBLEMS)) is not None:
            return None
        params = {"seq_base": seq_base}
        out = [(table, cur.sql(sql, params=params).to_arrow_table()) for table, sql in _STAGES]
        row = first_row(
            cur.execute("SELECT (SELECT count(*) FROM xv2_us) + (SELECT count(*) FROM xv2_tw)")
        )
        return (int(row[0]) if row else 0), out
    except duckdb.Error:
        return None
    finally:
        for name in _TEMPS:
            cur.execute(f"DROP TABLE IF EXISTS {name}")


def read_blocks(
    source: SourceFile, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[bytes, int, int]]:
    """Cut the (decompressed) file into blocks of whole lines; yield
    ``(block, first line number, byte offset)`` for each."""
    line_no, offset = 1, 0
    carry = b""  # the start of a line that the previous block cut
    with source.open() as f:
        while True:
            block = f.read(chunk_bytes)
            if block:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    carry += block
                    continue
            elif carry:
                cut = 0
            else:
                return
            whole = block if cut == len(block) else block[:cut]
            if carry:
                whole = carry + whole
            yield whole, line_no, offset
            line_no += whole.count(b"\n")
            offset += len(whole)
            carry = block[cut:]


def write_block(block: bytes, path: Path) -> Path:
    with path.open("wb") as out:
        out.write(block)
    return path


def split_lines(
    source: SourceFile, workdir: Path, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[Path, int, int]]:
    """Cut the (decompressed) file into line-aligned chunk files; yield
    ``(chunk path, first line number, byte offset)`` for each."""
    for n, (block, line_no, offset) in enumerate(read_blocks(source, chunk_bytes)):
        yield write_block(block, workdir / f"chunk{n:05d}.jsonl"), line_no, offset


def split_ahead(
    source: SourceFile, workdir: Path, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[Path, int, int]]:
    """:func:`split_lines` in a background thread, one chunk ahead of the consumer, so
    reading and writing the next chunk overlaps with parsing this one."""

    def work(put: Callable[[object], bool]) -> None:
        for item in split_lines(source, workdir, chunk_bytes):
            if not put(item):
                return

    return _ahead(work, "fimiscope-split")


def stage_ahead(
    con: duckdb.DuckDBPyConnection, chunks: Iterator[tuple[Path, int, int]]
) -> Iterator[tuple[Path, int, int, tuple[int, list[tuple[str, pa.Table]]] | None]]:
    """:func:`stage_chunk` over ``chunks`` in a background thread on a cursor of ``con``, one
    chunk ahead of the consumer; yields ``(path, first line, offset, staged or None)``.
    Chunk ``k`` gets the ``_seq`` base ``k << 43``."""

    cur = con.cursor()  # made here: a connection is not for use from two threads at once
    prepare_cursor(cur)

    def work(put: Callable[[object], bool]) -> None:
        try:
            for k, (path, line0, offset0) in enumerate(chunks):
                if not put((path, line0, offset0, stage_chunk(cur, str(path), k << 43))):
                    return
        finally:
            cur.close()

    return _ahead(work, "fimiscope-stage")


def _ahead(
    work: Callable[[Callable[[object], bool]], None], name: str, depth: int = 1
) -> Iterator[Any]:
    """Run ``work(put)`` in a thread, yielding what it puts (at most ``depth`` ahead).
    ``put`` returns False once the consumer has gone; an exception in ``work`` is raised in
    the consumer."""
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(("item", item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            work(put)
            put_end = ("end", None)
        except BaseException as exc:  # handed to the consumer, raised there
            put_end = ("error", exc)
        while not stop.is_set():
            try:
                q.put(put_end, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            what, value = q.get()
            if what == "end":
                return
            if what == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get_nowait()
            worker.join(timeout=0.05)
