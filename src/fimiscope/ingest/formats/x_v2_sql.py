"""The fast path for X API v2 JSON Lines of response pages, in DuckDB's native JSON reader.

It produces exactly the staging rows that :class:`~fimiscope.ingest.formats.x_v2.XApiV2`'s
Python parser produces, for files in which every line is a well-formed page. Anything else
(a malformed line, a line without ``data``, a tweet without an id or with a bad time, an
unknown reference type) makes :func:`stage_pages` return ``False`` before it writes a row,
and the caller falls back to the Python parser, which quarantines the bad records with
their line numbers. A test checks that both paths give identical stores.
"""

from __future__ import annotations

from fimiscope._sql import first_row

import duckdb

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from fimiscope._sql import first_row
from fimiscope.ingest.source import SourceFile

_TWEET = (
    "STRUCT(id VARCHAR, text VARCHAR, author_id VARCHAR, created_at VARCHAR, "
    "conversation_id VARCHAR, lang VARCHAR, source VARCHAR, in_reply_to_user_id VARCHAR, "
    "referenced_tweets STRUCT(type VARCHAR, id VARCHAR)[], "
    "public_metrics STRUCT(retweet_count BIGINT, reply_count BIGINT, like_count BIGINT, "
    "quote_count BIGINT, impression_count BIGINT, followers_count BIGINT, "
    "following_count BIGINT, tweet_count BIGINT), "
    "entities STRUCT(urls STRUCT(url VARCHAR, expanded_url VARCHAR, unwound_url VARCHAR)[], "
    "hashtags STRUCT(tag VARCHAR)[], mentions STRUCT(username VARCHAR, id VARCHAR)[]), "
    "attachments STRUCT(media_keys VARCHAR[]), "
    "note_tweet STRUCT(text VARCHAR, entities STRUCT(urls STRUCT(url VARCHAR, "
    "expanded_url VARCHAR, unwound_url VARCHAR)[], hashtags STRUCT(tag VARCHAR)[], "
    "mentions STRUCT(username VARCHAR, id VARCHAR)[])), "
    "withheld STRUCT(country_codes VARCHAR[]), "
    "username VARCHAR, name VARCHAR, description VARCHAR, location VARCHAR, "
    "verified BOOLEAN, protected BOOLEAN, profile_image_url VARCHAR)"
)
_COLUMNS = {
    "data": f"{_TWEET}[]",
    "includes": f"STRUCT(users {_TWEET}[], tweets {_TWEET}[], "
                "media STRUCT(media_key VARCHAR, type VARCHAR, url VARCHAR, "
                "preview_image_url VARCHAR)[])",
    "__twarc": "STRUCT(url VARCHAR)",
}
_ENDPOINT = (r"/2/(tweets|users)/(\d+)/(liking_users|retweeted_by|liked_tweets|following|"
             r"followers|quote_tweets)")

# Sections of a page, in the order the Python parser visits them (for `_seq`).
_SEQ = "$seq_base + (rec * 4 + section) * 1048576 + idx"

_PAGES = """
CREATE OR REPLACE TEMP TABLE xv2_pages AS
SELECT ordinality AS rec, data, includes,
       regexp_extract("__twarc".url, $re, 2) AS ep_id,
       regexp_extract("__twarc".url, $re, 3) AS ep_rel
  FROM read_ndjson($path, columns = $columns, compression = $compression,
                   maximum_object_size = 16777216, format = 'newline_delimited')
  WITH ORDINALITY
"""

_ITEMS = """
CREATE OR REPLACE TEMP TABLE xv2_items AS
WITH d AS (
    SELECT rec, ep_id, ep_rel, unnest(data) AS t, generate_subscripts(data, 1) - 1 AS idx
      FROM xv2_pages
), u AS (
    SELECT rec, unnest(includes.users) AS t, generate_subscripts(includes.users, 1) - 1 AS idx
      FROM xv2_pages
), it AS (
    SELECT rec, unnest(includes.tweets) AS t,
           generate_subscripts(includes.tweets, 1) - 1 AS idx FROM xv2_pages
)
SELECT rec, 0 AS section, idx, 'user' AS what, NULL AS ep_id, NULL AS ep_rel, t FROM u
UNION ALL
SELECT rec, 1, idx,
       CASE WHEN ep_rel IN ('liking_users', 'retweeted_by', 'following', 'followers')
            THEN 'user' ELSE 'tweet' END, ep_id, ep_rel, t FROM d
UNION ALL
SELECT rec, 2, idx, 'tweet', NULL, NULL, t FROM it
"""

# Any row here means: not for the fast path.
_PROBLEMS = """
SELECT 'page without data' FROM xv2_pages WHERE data IS NULL
UNION ALL
SELECT 'item without id' FROM xv2_items WHERE t.id IS NULL OR t.id = ''
UNION ALL
SELECT 'bad created_at' FROM xv2_items
 WHERE t.created_at IS NOT NULL AND try_cast(t.created_at AS TIMESTAMPTZ) IS NULL
UNION ALL
SELECT 'bad reference' FROM xv2_items
 WHERE len(list_filter(t.referenced_tweets, lambda r: r.type IS NULL
           OR r.type NOT IN ('retweeted', 'replied_to', 'quoted') OR r.id IS NULL)) > 0
LIMIT 1
"""

_TWEETS = """
CREATE OR REPLACE TEMP TABLE xv2_tweets AS
SELECT i.rec, i.section, i.idx, i.ep_id, i.ep_rel, i.t,
       list_filter(t.referenced_tweets, lambda r: r.type = 'retweeted')[1].id AS rt_id,
       list_filter(t.referenced_tweets, lambda r: r.type = 'replied_to')[1].id AS re_id,
       list_filter(t.referenced_tweets, lambda r: r.type = 'quoted')[1].id AS qt_id,
       coalesce(t.note_tweet.entities, t.entities) AS ents
  FROM xv2_items i WHERE what = 'tweet'
"""

_TWEETS_REFS = """
CREATE OR REPLACE TEMP TABLE xv2_tw AS
WITH inc AS (
    SELECT DISTINCT ON (rec, t.id) rec, t.id AS id, t.author_id AS author_id
      FROM xv2_items WHERE section = 2
), users AS (
    SELECT DISTINCT ON (rec, t.id) rec, t.id AS id, t.username AS username
      FROM xv2_items WHERE section = 0
)
SELECT w.*,
       CASE WHEN rt_id IS NOT NULL THEN 'repost' WHEN re_id IS NOT NULL THEN 'reply'
            WHEN qt_id IS NOT NULL THEN 'quote' ELSE 'post' END AS kind,
       rt.author_id AS rt_author, rt.id IS NOT NULL AS rt_included,
       coalesce(t.in_reply_to_user_id, re.author_id) AS re_author,
       re.id IS NOT NULL AS re_included,
       qt.author_id AS qt_author, qt.id IS NOT NULL AS qt_included,
       u.username
  FROM xv2_tweets w
  LEFT JOIN inc rt ON rt.rec = w.rec AND rt.id = w.rt_id
  LEFT JOIN inc re ON re.rec = w.rec AND re.id = w.re_id
  LEFT JOIN inc qt ON qt.rec = w.rec AND qt.id = w.qt_id
  LEFT JOIN users u ON u.rec = w.rec AND u.id = t.author_id
"""

_STAGE_POSTS = f"""
-- stage: posts
SELECT 'x', t.id, t.author_id, t.created_at::TIMESTAMPTZ, kind,
       CASE kind WHEN 'repost' THEN rt_id WHEN 'reply' THEN re_id WHEN 'quote' THEN qt_id END,
       CASE kind WHEN 'repost' THEN rt_author WHEN 'reply' THEN re_author
                 WHEN 'quote' THEN qt_author END,
       t.conversation_id, coalesce(t.note_tweet.text, t.text), t.lang, t.source,
       t.public_metrics.like_count, t.public_metrics.retweet_count,
       t.public_metrics.reply_count, t.public_metrics.quote_count,
       t.public_metrics.impression_count,
       kind = 'repost' AND coalesce(ends_with(t.text, '…'), false) AND t.note_tweet IS NULL,
       false,
       nullif(array_to_string(t.withheld.country_codes, ','), ''),
       'https://x.com/' || coalesce(username, 'i/web') || '/status/' || t.id,
       {_SEQ}
  FROM xv2_tw
UNION ALL
-- referenced tweets not included in the page: stubs
SELECT 'x', ref_id, ref_author, NULL, 'post', NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, false, true, NULL, NULL, {_SEQ}
  FROM (
    SELECT *, unnest([
        {{'ref_id': rt_id, 'ref_author': rt_author, 'inc': rt_included}},
        {{'ref_id': re_id, 'ref_author': re_author, 'inc': re_included}},
        {{'ref_id': qt_id, 'ref_author': qt_author, 'inc': qt_included}}], recursive := true)
      FROM xv2_tw
  ) WHERE ref_id IS NOT NULL AND NOT inc
"""

_STAGE_REFS = f"""
-- stage: post_refs
SELECT 'x', t.id, ref_type, ref_id, ref_author, {_SEQ} FROM (
    SELECT *, unnest([
        {{'ref_type': 'repost', 'ref_id': rt_id, 'ref_author': rt_author}},
        {{'ref_type': 'reply', 'ref_id': re_id, 'ref_author': re_author}},
        {{'ref_type': 'quote', 'ref_id': qt_id, 'ref_author': qt_author}}], recursive := true)
      FROM xv2_tw
) WHERE ref_id IS NOT NULL
"""

_STAGE_ENTITIES = f"""
-- stage: post_urls
SELECT 'x', t.id, pos, u.url, coalesce(u.unwound_url, u.expanded_url), {_SEQ}
  FROM (SELECT *, unnest(ents.urls) AS u, generate_subscripts(ents.urls, 1) - 1 AS pos
          FROM xv2_tw)
 WHERE coalesce(u.url, '') <> '' OR coalesce(coalesce(u.unwound_url, u.expanded_url), '') <> '';
-- stage: post_hashtags
SELECT 'x', t.id, pos, h.tag, {_SEQ}
  FROM (SELECT *, unnest(ents.hashtags) AS h, generate_subscripts(ents.hashtags, 1) - 1 AS pos
          FROM xv2_tw)
 WHERE coalesce(h.tag, '') <> '';
-- stage: post_mentions
SELECT 'x', t.id, pos, m.username, m.id, {_SEQ}
  FROM (SELECT *, unnest(ents.mentions) AS m, generate_subscripts(ents.mentions, 1) - 1 AS pos
          FROM xv2_tw)
 WHERE coalesce(m.username, '') <> '' OR coalesce(m.id, '') <> '';
-- stage: post_media
SELECT 'x', w.t.id, pos, key, mm.m.type, coalesce(mm.m.url, mm.m.preview_image_url), NULL,
       $seq_base + (w.rec * 4 + w.section) * 1048576 + w.idx
  FROM (SELECT *, unnest(t.attachments.media_keys) AS key,
               generate_subscripts(t.attachments.media_keys, 1) - 1 AS pos FROM xv2_tw) w
  LEFT JOIN (SELECT DISTINCT ON (p.rec, m.media_key) p.rec, m
               FROM (SELECT rec, unnest(includes.media) AS m FROM xv2_pages) p) mm
    ON mm.rec = w.rec AND mm.m.media_key = w.key
 WHERE coalesce(key, '') <> ''
"""

_STAGE_ACCOUNTS = f"""
-- stage: accounts
SELECT 'x', t.id, t.username, t.name, t.description, nullif(t.location, ''),
       t.created_at::TIMESTAMPTZ, t.public_metrics.followers_count,
       t.public_metrics.following_count, t.public_metrics.tweet_count, t.verified,
       t.protected,
       CASE WHEN t.profile_image_url IS NULL OR t.profile_image_url = '' THEN NULL
            ELSE contains(t.profile_image_url, 'default_profile') END,
       t.profile_image_url, NULL, {_SEQ}
  FROM xv2_items WHERE what = 'user'
"""

_STAGE_ENGAGEMENTS = f"""
-- stage: engagements
SELECT 'x',
       CASE ep_rel WHEN 'following' THEN ep_id WHEN 'liked_tweets' THEN ep_id ELSE t.id END,
       CASE ep_rel WHEN 'liking_users' THEN 'like' WHEN 'retweeted_by' THEN 'repost'
                   WHEN 'liked_tweets' THEN 'like' ELSE 'follow' END,
       CASE WHEN ep_rel IN ('liking_users', 'retweeted_by') THEN ep_id
            WHEN ep_rel = 'liked_tweets' THEN t.id END,
       CASE ep_rel WHEN 'following' THEN t.id WHEN 'followers' THEN ep_id
                   WHEN 'liked_tweets' THEN t.author_id END,
       NULL, {_SEQ}
  FROM xv2_items
 WHERE section = 1 AND ep_rel IN ('liking_users', 'retweeted_by', 'following', 'followers',
                                  'liked_tweets')
"""

_TEMPS = ("xv2_pages", "xv2_items", "xv2_tweets", "xv2_tw")
_STAGES = (_STAGE_POSTS, _STAGE_REFS, _STAGE_ACCOUNTS, _STAGE_ENGAGEMENTS,
           *_STAGE_ENTITIES.split(";"))
CHUNK_BYTES = 64 * 1024 * 1024


def stage_chunk(cur: duckdb.DuckDBPyConnection, path: str, seq_base: int
                ) -> tuple[int, list[tuple[str, pa.Table]]] | None:
    """Parse one chunk file of clean pages on ``cur`` (its own connection, so a failure
    aborts nothing). Return ``(records, [(stage table, rows)])`` or ``None`` when the chunk
    needs the Python parser."""
    try:
        cur.execute(_PAGES, {"path": path, "columns": _COLUMNS, "compression": "none",
                             "re": _ENDPOINT})
        cur.execute(_ITEMS)
        if first_row(cur.execute(_PROBLEMS)) is not None:
            return None
        cur.execute(_TWEETS)
        cur.execute(_TWEETS_REFS)
        out = []
        for sql in _STAGES:
            table = sql.split("-- stage: ", 1)[1].split("\n", 1)[0].strip()
            params = {"seq_base": seq_base}
            out.append((table, cur.sql(sql, params=params).to_arrow_table()))
        row = first_row(cur.execute("SELECT count(*) FROM xv2_items"))
        return (int(row[0]) if row else 0), out
    except duckdb.Error:
        return None
    finally:
        for name in _TEMPS:
            cur.execute(f"DROP TABLE IF EXISTS {name}")


def split_lines(source: SourceFile, workdir: Path, chunk_bytes: int = CHUNK_BYTES
                ) -> Iterator[tuple[Path, int, int]]:
    """Cut the (decompressed) file into line-aligned chunk files; yield
    ``(chunk path, first line number, byte offset)`` for each."""
    line_no, offset, n = 1, 0, 0
    with source.open() as f:
        carry = b""
        while True:
            block = f.read(chunk_bytes)
            if not block and not carry:
                return
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if cut == 0:
                carry = data
                continue
            piece, carry = data[:cut], data[cut:]
            path = workdir / f"chunk{n:05d}.jsonl"
            path.write_bytes(piece)
            yield path, line_no, offset
            line_no += piece.count(b"\n")
            offset += len(piece)
            n += 1
