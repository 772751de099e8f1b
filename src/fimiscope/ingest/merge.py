"""Merging: one file's staged rows (Parquet, see :mod:`staging`) go into the store.

Merging de-duplicates inside the file and against the store: a post already stored is kept
(a stub is upgraded by a full copy), an account's first profile is kept and later files only
fill its missing values, and entity rows come only with newly stored posts. It runs inside the
file's transaction; the staged rows already carry their normalised columns, so it is plain SQL.
All statements are fixed SQL over fixed table names; no value is ever formatted into them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from fimiscope._sql import first_row, quote_ident
from fimiscope.ingest.staging import StageFiles, source
from fimiscope.store.schema import ACCOUNTS, ENGAGEMENTS, POSTS, Table

CHILD_TABLES: dict[str, tuple[str, ...]] = {
    "post_refs": ("platform", "post_id", "ref_type", "ref_post_id"),
    "post_urls": ("platform", "post_id", "position"),
    "post_hashtags": ("platform", "post_id", "position"),
    "post_mentions": ("platform", "post_id", "position"),
    "post_media": ("platform", "post_id", "position"),
}

# The posts a file adds, narrow, made in the file's transaction (so a crash leaves none; the
# store also drops this schema when it opens).
STAGING = "fimiscope_staging"
NEW_POSTS = f"{STAGING}.{quote_ident('new_posts')}"


def _run(
    con: duckdb.DuckDBPyConnection, stage: StageFiles, sql: str, extra: dict[str, Any] | None = None
) -> None:
    con.execute(sql, {**stage.params(sql), **(extra or {})})


def _cols(table: Table, prefix: str = "") -> str:
    return ", ".join(prefix + quote_ident(c) for c in table.column_names)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = first_row(con.execute(sql, params or []))
    return int(row[0]) if row and row[0] is not None else 0


def merge(con: duckdb.DuckDBPyConnection, stage: StageFiles, source_id: int) -> dict[str, int]:
    """Move staged rows into the canonical tables; return counts of new rows."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING}")
    counts = {"posts": _merge_posts(con, stage, source_id)}
    for table, key in CHILD_TABLES.items():
        _merge_child(con, stage, table, key)
    counts["engagements"] = _merge_engagements(con, stage, source_id)
    counts["accounts"] = _merge_accounts(con, stage, source_id)
    for name in ("new_posts", "acc"):
        con.execute(f"DROP TABLE IF EXISTS {STAGING}.{quote_ident(name)}")
    return counts


# Staged posts joined with the chosen ones per slice of files (about this many rows each).
POSTS_PER_SLICE = 1_500_000

# A staged row's identity: the index of its file in the file list and its row number there.
_ROW = "(file_index::BIGINT << 32) + file_row_number"


def _merge_posts(con: duckdb.DuckDBPyConnection, stage: StageFiles, source_id: int) -> int:
    sp = source("posts")
    # A full copy replaces a stub (a post known only from a reference) of an earlier file.
    if first_row(con.execute("SELECT 1 FROM posts WHERE is_stub LIMIT 1")) is not None:
        _run(
            con,
            stage,
            f"""
            DELETE FROM posts USING (
                SELECT DISTINCT platform, post_id FROM {sp} WHERE NOT is_stub
            ) s
            WHERE posts.platform = s.platform AND posts.post_id = s.post_id AND posts.is_stub
        """,
        )
    # The posts this file adds: per post, its first full copy (else its first stub), unless the
    # store has it. Only the narrow columns are kept; the wide rows are read once, below.
    _run(
        con,
        stage,
        f"""
        CREATE OR REPLACE TABLE {NEW_POSTS} AS
        SELECT s.* FROM (
            SELECT platform, post_id, account_id, created_at, is_stub, is_truncated, _seq,
                   {_ROW} AS _row
              FROM {sp}
            QUALIFY row_number() OVER (
                PARTITION BY platform, post_id ORDER BY is_stub, is_truncated, _seq) = 1
        ) s
        ANTI JOIN posts p ON p.platform = s.platform AND p.post_id = s.post_id
    """,
    )
    # `_row` names one staged row (its file and its place in that file). The wide rows are
    # read a slice of files at a time, each joined with its own range of `_row`: one join
    # over all of them carries every column through a hash join ten million rows wide, which
    # costs more than twice as much.
    files = stage.files["posts"]
    total = max(1, stage.rows["posts"])
    per_slice = max(1, (len(files) * POSTS_PER_SLICE) // total)
    for first in range(0, len(files), per_slice):
        part = files[first : first + per_slice]
        con.execute(
            f"INSERT INTO posts ({_cols(POSTS)}) SELECT {_cols(POSTS)} FROM "
            f"(SELECT s.*, $source_id::BIGINT AS source_id FROM "
            f"(SELECT *, ((file_index + $first)::BIGINT << 32) + file_row_number AS _row "
            f"FROM read_parquet($files)) s SEMI JOIN "
            f"(SELECT _row FROM {NEW_POSTS} WHERE _row >= $lo AND _row < $hi) n "
            f"ON n._row = s._row)",
            {
                "source_id": source_id,
                "first": first,
                "files": part,
                "lo": first << 32,
                "hi": (first + len(part)) << 32,
            },
        )
    return _scalar(con, f"SELECT count(*) FROM {NEW_POSTS} WHERE NOT is_stub")


# Per child table: the column that must not be NULL for a row to count (links and hashtags
# that normalise to nothing are dropped: an empty value must never "match" another).
_REQUIRED = {"post_urls": "url_norm", "post_hashtags": "tag_norm"}


def _merge_child(
    con: duckdb.DuckDBPyConnection, stage: StageFiles, table: str, key: tuple[str, ...]
) -> None:
    target_cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    col_sql = ", ".join(quote_ident(c) for c in target_cols)
    part = ", ".join(quote_ident(c) for c in key)
    required = _REQUIRED.get(table)
    where = f"WHERE {quote_ident(required)} IS NOT NULL" if required else ""
    if not stage.rows[table]:
        return
    # The first row per key wins. Keys rarely repeat within a file, and the window that picks
    # the first costs more than writing the rows, so it runs only when some key does repeat.
    sql = f"SELECT 1 FROM {source(table)} GROUP BY {part} HAVING count(*) > 1 LIMIT 1"
    repeats = first_row(con.execute(sql, stage.params(sql))) is not None
    first = f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY _seq) = 1" if repeats else ""
    _run(
        con,
        stage,
        f"""
        INSERT INTO {quote_ident(table)} ({col_sql})
        SELECT {col_sql} FROM (
            SELECT c.* FROM {source(table)} c SEMI JOIN {NEW_POSTS} n
                ON n.platform = c.platform AND n.post_id = c.post_id
        ) {where}
        {first}
    """,
    )


def _merge_engagements(con: duckdb.DuckDBPyConnection, stage: StageFiles, source_id: int) -> int:
    before = _scalar(con, "SELECT count(*) FROM engagements")
    _run(
        con,
        stage,
        f"""
        INSERT INTO engagements ({_cols(ENGAGEMENTS)})
        SELECT platform, account_id, kind, target_post_id, target_account_id, "at",
               $source_id::BIGINT
        FROM (
            SELECT * FROM {source("engagements")}
            QUALIFY row_number() OVER (
                PARTITION BY platform, account_id, kind, target_post_id, target_account_id
                ORDER BY "at" IS NULL, _seq) = 1
        ) s
        ANTI JOIN engagements e
          ON e.platform = s.platform AND e.account_id = s.account_id AND e.kind = s.kind
         AND e.target_post_id IS NOT DISTINCT FROM s.target_post_id
         AND e.target_account_id IS NOT DISTINCT FROM s.target_account_id
    """,
        {"source_id": source_id},
    )
    return _scalar(con, "SELECT count(*) FROM engagements") - before


_PROFILE = [
    c
    for c in ACCOUNTS.column_names
    if c not in ("platform", "account_id", "first_seen_at", "source_id", "handle_norm")
]


def _merge_accounts(con: duckdb.DuckDBPyConnection, stage: StageFiles, source_id: int) -> int:
    acc = f"{STAGING}.{quote_ident('acc')}"
    firsts = ", ".join(
        f"arg_min({quote_ident(c)}, _seq) FILTER (WHERE {quote_ident(c)} IS NOT NULL) "
        f"AS {quote_ident(c)}"
        for c in _PROFILE
    )
    # The folded form of the first handle (NULL when that handle folds to nothing).
    firsts += ", arg_min_null(handle_norm, _seq) FILTER (WHERE handle IS NOT NULL) AS handle_norm"
    se = source("engagements")
    # Every account the file mentions gets a row, profile or not, so joins never lose one.
    _run(
        con,
        stage,
        f"""
        CREATE OR REPLACE TABLE {acc} AS
        WITH profiles AS (
            SELECT platform, account_id, {firsts} FROM {source("accounts")} GROUP BY ALL
        ), seen AS (
            SELECT platform, account_id, min(created_at) AS first_seen_at
              FROM {NEW_POSTS} WHERE account_id IS NOT NULL AND NOT is_stub
             GROUP BY ALL
            UNION ALL SELECT platform, account_id, min("at") FROM {se} GROUP BY ALL
            UNION ALL SELECT platform, account_id, NULL FROM {NEW_POSTS}
              WHERE account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, ref_account_id, NULL FROM {source("posts")}
              WHERE ref_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, target_account_id, NULL FROM {se}
              WHERE target_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, mentioned_account_id, NULL FROM {source("post_mentions")}
              WHERE mentioned_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, account_id, NULL FROM profiles
        ), ids AS (
            SELECT platform, account_id, min(first_seen_at) AS first_seen_at FROM seen GROUP BY ALL
        )
        SELECT ids.platform, ids.account_id, {", ".join("p." + quote_ident(c) for c in _PROFILE)},
               p.handle_norm, ids.first_seen_at
          FROM ids LEFT JOIN profiles p USING (platform, account_id)
    """,
    )
    sets = ", ".join(
        f"{quote_ident(c)} = coalesce(accounts.{quote_ident(c)}, s.{quote_ident(c)})"
        for c in (*_PROFILE, "handle_norm")
    )
    con.execute(f"""
        UPDATE accounts SET {sets},
               first_seen_at = CASE WHEN accounts.first_seen_at IS NULL THEN s.first_seen_at
                                    WHEN s.first_seen_at IS NULL THEN accounts.first_seen_at
                                    ELSE least(accounts.first_seen_at, s.first_seen_at) END
          FROM {acc} s
         WHERE accounts.platform = s.platform AND accounts.account_id = s.account_id
    """)
    before = _scalar(con, "SELECT count(*) FROM accounts")
    con.execute(
        f"""
        INSERT INTO accounts ({_cols(ACCOUNTS)})
        SELECT {_cols(ACCOUNTS)} FROM (SELECT *, ?::BIGINT AS source_id FROM {acc})
        s ANTI JOIN accounts a ON a.platform = s.platform AND a.account_id = s.account_id
    """,
        [source_id],
    )
    return _scalar(con, "SELECT count(*) FROM accounts") - before


def insert_rejects(
    con: duckdb.DuckDBPyConnection,
    stage: StageFiles,
    source_id: int | None,
    path: str,
    fmt: str,
    now: datetime,
) -> None:
    _run(
        con,
        stage,
        f"""
        INSERT INTO rejects
        SELECT $source_id::BIGINT, $path, $fmt, line, byte_offset, location, reason, excerpt,
               $now
          FROM {source("rejects")} ORDER BY _seq
    """,
        {"source_id": source_id, "path": path, "fmt": fmt, "now": now},
    )
