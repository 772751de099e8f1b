"""Staging and merging: one file's rows land in temp tables, then merge into the store.

Merging de-duplicates inside the file and against the store: a post already stored is kept
(a stub is upgraded by a full copy), an account's first profile is kept and later files only
fill its missing values, and entity rows come only with newly stored posts. All statements are
fixed SQL over fixed table names; no value is ever formatted into them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import duckdb
import pyarrow as pa

from fimiscope._sql import first_row, quote_ident
from fimiscope.ingest.normalise import (
    fold_handle_array,
    fold_hashtag_array,
    normalise_text_array,
    normalise_url_array,
    url_domain_array,
)
from fimiscope.ingest.sink import STAGE_SCHEMAS
from fimiscope.store.schema import ACCOUNTS, ENGAGEMENTS, POSTS, Table

CHILD_TABLES: dict[str, tuple[str, ...]] = {
    "post_refs": ("platform", "post_id", "ref_type", "ref_post_id"),
    "post_urls": ("platform", "post_id", "position"),
    "post_hashtags": ("platform", "post_id", "position"),
    "post_mentions": ("platform", "post_id", "position"),
    "post_media": ("platform", "post_id", "position"),
}


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the normalisation functions as vectorised (Arrow) SQL functions."""
    specs = {
        "fimiscope_norm_text": normalise_text_array,
        "fimiscope_fold_tag": fold_hashtag_array,
        "fimiscope_fold_handle": fold_handle_array,
        "fimiscope_norm_url": normalise_url_array,
        "fimiscope_url_domain": url_domain_array,
    }
    for name, fn in specs.items():
        with contextlib.suppress(duckdb.Error):
            con.remove_function(name)
        con.create_function(name, fn, ["VARCHAR"], "VARCHAR", type="arrow",
                            side_effects=False, null_handling="special")


# Staging tables live in the store file (not TEMP: DuckDB keeps temp tables in memory, and a
# 10-million-post file must spill to disk). They are created and dropped inside the file's
# transaction, so a crash leaves none behind.
STAGING = "fimiscope_staging"


def stage_name(table: str) -> str:
    return f"{STAGING}.{quote_ident('stage_' + table)}"


def create_stages(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING}")
    for table, schema in STAGE_SCHEMAS.items():
        empty = pa.Table.from_batches([], schema=schema)  # noqa: F841 - read by DuckDB below
        con.execute(f"CREATE OR REPLACE TABLE {stage_name(table)} AS SELECT * FROM empty")


def append_stage(con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    # DuckDB 2.0 loses the rows of a parallel insert of a full row group (122,880 rows) or more
    # into a table created in the same transaction: the table then reads as empty. A
    # single-threaded insert is correct, and still writes large batches straight to disk
    # (small inserts would keep the whole file's staging in memory until commit).
    row = first_row(con.execute("SELECT current_setting('threads')"))
    threads = int(row[0]) if row else 1
    con.register("_fimiscope_batch", batch)
    try:
        if threads > 1:
            con.execute("SET threads = 1")
        con.execute(f"INSERT INTO {stage_name(table)} SELECT * FROM _fimiscope_batch")
    finally:
        if threads > 1:
            con.execute(f"SET threads = {threads}")
        con.unregister("_fimiscope_batch")


def drop_stages(con: duckdb.DuckDBPyConnection) -> None:
    for table in (*STAGE_SCHEMAS, "new_posts", "acc", "dedup_posts"):
        con.execute(f"DROP TABLE IF EXISTS {stage_name(table)}")


def _cols(table: Table, prefix: str = "") -> str:
    return ", ".join(prefix + quote_ident(c) for c in table.column_names)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = first_row(con.execute(sql, params or []))
    return int(row[0]) if row and row[0] is not None else 0


def merge(con: duckdb.DuckDBPyConnection, source_id: int) -> dict[str, int]:
    """Move staged rows into the canonical tables; return counts of new rows."""
    counts = {"posts": _merge_posts(con, source_id)}
    for table, key in CHILD_TABLES.items():
        _merge_child(con, table, key)
    counts["engagements"] = _merge_engagements(con, source_id)
    counts["accounts"] = _merge_accounts(con, source_id)
    return counts


def _merge_posts(con: duckdb.DuckDBPyConnection, source_id: int) -> int:
    sp = stage_name("posts")
    # A full copy replaces a stub (a post known only from a reference).
    con.execute(f"""
        DELETE FROM posts USING (SELECT DISTINCT platform, post_id FROM {sp} WHERE NOT is_stub) s
        WHERE posts.platform = s.platform AND posts.post_id = s.post_id AND posts.is_stub
    """)
    # The posts this file adds: per post, its first full copy (else its first stub), unless the
    # store has it. Only the narrow columns are kept; the wide rows are read once, below.
    con.execute(f"""
        CREATE OR REPLACE TABLE {stage_name('new_posts')} AS
        SELECT s.* FROM (
            SELECT platform, post_id, account_id, created_at, is_stub, is_truncated, _seq
              FROM {sp}
            QUALIFY row_number() OVER (
                PARTITION BY platform, post_id ORDER BY is_stub, is_truncated, _seq) = 1
        ) s
        ANTI JOIN posts p ON p.platform = s.platform AND p.post_id = s.post_id
    """)
    # (post_id, _seq, is_stub, is_truncated) names one staged row: `_seq` is unique per row,
    # or per source item on the SQL fast path, where an item gives one row per post id.
    con.execute(
        f"INSERT INTO posts ({_cols(POSTS)}) SELECT {_cols(POSTS)} FROM "
        f"(SELECT s.*, fimiscope_norm_text(s.text) AS text_norm, ?::BIGINT AS source_id "
        f"FROM {sp} s SEMI JOIN {stage_name('new_posts')} n "
        f"ON n.platform = s.platform AND n.post_id = s.post_id AND n._seq = s._seq "
        f"AND n.is_stub IS NOT DISTINCT FROM s.is_stub "
        f"AND n.is_truncated IS NOT DISTINCT FROM s.is_truncated)",
        [source_id],
    )
    return _scalar(con, f"SELECT count(*) FROM {stage_name('new_posts')} WHERE NOT is_stub")


# Per child table: the normalised columns computed at merge, as (column, function, input), and
# the column that must not be NULL for a row to count. Each function runs once per distinct
# input value of the file (values repeat a lot: links, hashtags, handles), not once per row.
_DERIVED: dict[str, tuple[tuple[tuple[str, str, str], ...], str | None]] = {
    "post_urls": ((("_norm_expanded", "fimiscope_norm_url", "expanded_url"),
                   ("_norm_short", "fimiscope_norm_url", "url")), "url_norm"),
    "post_hashtags": ((("tag_norm", "fimiscope_fold_tag", "tag"),), "tag_norm"),
    "post_mentions": ((("handle_norm", "fimiscope_fold_handle", "handle"),), None),
}


def _merge_child(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...]) -> None:
    target_cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = 'main' ORDER BY ordinal_position", [table]).fetchall()]
    col_sql = ", ".join(quote_ident(c) for c in target_cols)
    part = ", ".join(quote_ident(c) for c in key)
    derived, required = _DERIVED.get(table, ((), None))
    where = f"WHERE {quote_ident(required)} IS NOT NULL" if required else ""
    fresh = (f"SELECT c.* FROM {stage_name(table)} c SEMI JOIN {stage_name('new_posts')} n "
             f"ON n.platform = c.platform AND n.post_id = c.post_id")
    maps: list[str] = []
    joins, outs = [], []
    for i, (name, fn, arg) in enumerate(derived):
        m = stage_name(f"map_{fn}")
        if m not in maps:  # one lookup per function: its distinct inputs, each mapped once
            inputs = " UNION ".join(f"SELECT {quote_ident(a)} AS v FROM fresh"
                                    for _, f, a in derived if f == fn)
            con.execute(f"""
                CREATE OR REPLACE TABLE {m} AS
                WITH fresh AS ({fresh})
                SELECT v, {fn}(v) AS n FROM (SELECT DISTINCT v FROM ({inputs})) WHERE v IS NOT NULL
            """)
            maps.append(m)
        joins.append(f"LEFT JOIN {m} j{i} ON j{i}.v = f.{quote_ident(arg)}")
        outs.append(f"j{i}.n AS {quote_ident(name)}")
    sel = ", ".join(["f.*", *outs])
    normalised = f"SELECT {sel} FROM ({fresh}) f {' '.join(joins)}"
    if table == "post_urls":
        # A non-normalisable expanded link falls back to the short link as written.
        dm = stage_name("map_domain")
        con.execute(f"""
            CREATE OR REPLACE TABLE {dm} AS
            SELECT v, fimiscope_url_domain(v) AS d FROM (SELECT DISTINCT n AS v FROM {maps[0]})
             WHERE v IS NOT NULL
        """)
        maps.append(dm)
        normalised = (f"SELECT x.*, dm.d AS domain FROM (SELECT *, coalesce(_norm_expanded, "
                      f"_norm_short) AS url_norm FROM ({normalised})) x "
                      f"LEFT JOIN {dm} dm ON dm.v = x.url_norm")
    con.execute(f"""
        INSERT INTO {quote_ident(table)} ({col_sql})
        SELECT {col_sql} FROM ({normalised}) {where}
        QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY _seq) = 1
    """)
    for m in maps:
        con.execute(f"DROP TABLE {m}")


def _merge_engagements(con: duckdb.DuckDBPyConnection, source_id: int) -> int:
    se = stage_name("engagements")
    before = _scalar(con, "SELECT count(*) FROM engagements")
    con.execute(f"""
        INSERT INTO engagements ({_cols(ENGAGEMENTS)})
        SELECT platform, account_id, kind, target_post_id, target_account_id, "at", ?::BIGINT
        FROM (
            SELECT * FROM {se}
            QUALIFY row_number() OVER (
                PARTITION BY platform, account_id, kind, target_post_id, target_account_id
                ORDER BY "at" IS NULL, _seq) = 1
        ) s
        ANTI JOIN engagements e
          ON e.platform = s.platform AND e.account_id = s.account_id AND e.kind = s.kind
         AND e.target_post_id IS NOT DISTINCT FROM s.target_post_id
         AND e.target_account_id IS NOT DISTINCT FROM s.target_account_id
    """, [source_id])
    return _scalar(con, "SELECT count(*) FROM engagements") - before


_PROFILE = [c for c in ACCOUNTS.column_names
            if c not in ("platform", "account_id", "first_seen_at", "source_id", "handle_norm")]


def _merge_accounts(con: duckdb.DuckDBPyConnection, source_id: int) -> int:
    acc = stage_name("acc")
    firsts = ", ".join(
        f"arg_min({quote_ident(c)}, _seq) FILTER (WHERE {quote_ident(c)} IS NOT NULL) "
        f"AS {quote_ident(c)}" for c in _PROFILE
    )
    # Every account the file mentions gets a row, profile or not, so joins never lose one.
    con.execute(f"""
        CREATE OR REPLACE TABLE {acc} AS
        WITH profiles AS (
            SELECT platform, account_id, {firsts} FROM {stage_name('accounts')} GROUP BY ALL
        ), seen AS (
            SELECT platform, account_id, min(created_at) AS first_seen_at
              FROM {stage_name('new_posts')} WHERE account_id IS NOT NULL AND NOT is_stub
             GROUP BY ALL
            UNION ALL SELECT platform, account_id, min("at") FROM {stage_name('engagements')}
              GROUP BY ALL
            UNION ALL SELECT platform, account_id, NULL FROM {stage_name('new_posts')}
              WHERE account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, ref_account_id, NULL FROM {stage_name('posts')}
              WHERE ref_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, target_account_id, NULL FROM {stage_name('engagements')}
              WHERE target_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, mentioned_account_id, NULL FROM {stage_name('post_mentions')}
              WHERE mentioned_account_id IS NOT NULL GROUP BY ALL
            UNION ALL SELECT platform, account_id, NULL FROM profiles
        ), ids AS (
            SELECT platform, account_id, min(first_seen_at) AS first_seen_at FROM seen GROUP BY ALL
        )
        SELECT ids.platform, ids.account_id, {", ".join("p." + quote_ident(c) for c in _PROFILE)},
               fimiscope_fold_handle(p.handle) AS handle_norm, ids.first_seen_at
          FROM ids LEFT JOIN profiles p USING (platform, account_id)
    """)
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
    con.execute(f"""
        INSERT INTO accounts ({_cols(ACCOUNTS)})
        SELECT {_cols(ACCOUNTS)} FROM (SELECT *, ?::BIGINT AS source_id FROM {acc})
        s ANTI JOIN accounts a ON a.platform = s.platform AND a.account_id = s.account_id
    """, [source_id])
    return _scalar(con, "SELECT count(*) FROM accounts") - before


def insert_rejects(con: duckdb.DuckDBPyConnection, source_id: int | None, path: str,
                   fmt: str, now: datetime) -> None:
    con.execute(f"""
        INSERT INTO rejects
        SELECT ?::BIGINT, ?, ?, line, byte_offset, location, reason, excerpt, ?
          FROM {stage_name('rejects')} ORDER BY _seq
    """, [source_id, path, fmt, now])
