"""The canonical store: one DuckDB file, opened, migrated and written through :class:`Store`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson

from fimiscope import __version__
from fimiscope._sql import first_row, quote_ident
from fimiscope.errors import ConfigError, NotFoundError, StoreError
from fimiscope.store.migrations import migrate

ExportFormat = Literal["parquet", "csv"]

_CSV_FORMULA_START = "^[=+\\-@\t\r]"


class Store:
    """A fimiscope store in one DuckDB file (or in memory with ``":memory:"``).

    Parameters
    ----------
    path
        The DuckDB file; created and migrated when missing.
    read_only
        Open without the right to write (several readers may share a file).
    memory_limit
        DuckDB's memory limit, e.g. ``"2GB"``; DuckDB spills to disk beyond it.
    threads
        DuckDB worker threads (default: all cores).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     store.count("posts")
    0
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            self.con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store ({_first_line(exc)})") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            migrate(self.con)
            # Leftovers of an ingest that was killed between its read and its transaction.
            self.con.execute("DROP SCHEMA IF EXISTS fimiscope_staging CASCADE")

    # -- life cycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commit when the block ends, roll back on any exception."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- queries ------------------------------------------------------------------------------
    def sql(
        self, query: str, params: Mapping[str, Any] | list[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return self.con.execute(query, params or []).fetchall()

    def count(self, table: str) -> int:
        row = first_row(self.con.execute(f"SELECT count(*) FROM {quote_ident(table)}"))
        return int(row[0]) if row else 0

    def tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def info(self) -> dict[str, Any]:
        """What the store holds: row counts, platforms, time span, sources and runs."""
        counts = {t: self.count(t) for t in self.tables()}
        platforms = dict(
            self.con.execute(
                "SELECT platform, count(*) FROM posts GROUP BY platform ORDER BY platform"
            ).fetchall()
        )
        span = first_row(self.con.execute("SELECT min(created_at), max(created_at) FROM posts"))
        sources = [
            dict(zip(("path", "format", "posts", "rejected", "ingested_at"), r, strict=True))
            for r in self.con.execute(
                "SELECT path, format, posts, rejected, ingested_at FROM sources ORDER BY source_id"
            ).fetchall()
        ]
        return {
            "path": self.path,
            "schema_version": self.schema_version(),
            "counts": counts,
            "posts_by_platform": platforms,
            "first_post_at": span[0].isoformat() if span and span[0] else None,
            "last_post_at": span[1].isoformat() if span and span[1] else None,
            "sources": [
                {**s, "ingested_at": s["ingested_at"].isoformat() if s["ingested_at"] else None}
                for s in sources
            ],
        }

    def schema_version(self) -> int:
        row = first_row(self.con.execute("SELECT max(version) FROM schema_meta"))
        return int(row[0]) if row and row[0] is not None else 0

    # -- runs -----------------------------------------------------------------------------------
    def start_run(
        self,
        stage: str,
        parameters: Mapping[str, Any],
        *,
        seed: int | None = None,
        input_digest: str | None = None,
    ) -> str:
        """Record the start of a stage run and return its ``run_id``."""
        now = datetime.now(UTC)
        run_id = f"{stage}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, 'running', NULL, ?, NULL)",
            [run_id, stage, _json(parameters), seed, __version__, input_digest, now],
        )
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: str = "ok",
        message: str | None = None,
        input_digest: str | None = None,
    ) -> None:
        """Record the end of a run; ``input_digest``, when given, replaces the one recorded
        at the start (for runs that learn their inputs' hashes as they go)."""
        self.con.execute(
            "UPDATE runs SET status = ?, message = ?, finished_at = ?, "
            "input_digest = coalesce(?, input_digest) WHERE run_id = ?",
            [status, message, datetime.now(UTC), input_digest, run_id],
        )

    def run(self, run_id: str) -> dict[str, Any]:
        cur = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = first_row(cur)
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.path}")
        names = [d[0] for d in cur.description]
        out = dict(zip(names, row, strict=True))
        out["parameters"] = orjson.loads(out["parameters"]) if out["parameters"] else {}
        return out

    def latest_run(self, stage: str) -> str | None:
        row = first_row(
            self.con.execute(
                "SELECT run_id FROM runs WHERE stage = ? AND status = 'ok' "
                "ORDER BY finished_at DESC LIMIT 1",
                [stage],
            )
        )
        return row[0] if row else None

    def source_digest(self) -> str:
        """SHA-256 over the sorted hashes of every ingested source: the store's input digest."""
        import hashlib

        h = hashlib.sha256()
        for (sha,) in self.con.execute("SELECT sha256 FROM sources ORDER BY sha256").fetchall():
            h.update(sha.encode())
        return h.hexdigest()

    # -- export ---------------------------------------------------------------------------------
    def export_table(
        self,
        table: str,
        path: str | Path,
        *,
        fmt: ExportFormat = "parquet",
        query: str | None = None,
        params: list[Any] | None = None,
        csv_formula_guard: bool = True,
    ) -> int:
        """Write a table (or a query) to Parquet or CSV; return the number of rows.

        CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or
        carriage return) get a leading apostrophe unless ``csv_formula_guard`` is off.
        """
        if fmt not in ("parquet", "csv"):
            raise ConfigError("fmt", "Store.export_table", "'parquet' or 'csv'", fmt)
        if query is None:
            if table not in self.tables():
                raise NotFoundError(f"no table {table!r} in {self.path}")
            query = f"SELECT * FROM {quote_ident(table)}"
        rel = self.con.sql(query, params=params) if params else self.con.sql(query)
        if fmt == "csv" and csv_formula_guard:
            rel = _guard_formulas(rel)
        target = str(Path(path))
        if fmt == "parquet":
            rel.write_parquet(target)
        else:
            rel.write_csv(target, header=True)
        row = first_row(self.con.execute(f"SELECT count(*) FROM ({query})", params or []))
        return int(row[0]) if row else 0


def _guard_formulas(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    exprs = []
    for name, dtype in zip(rel.columns, rel.types, strict=True):
        col = quote_ident(name)
        if str(dtype) == "VARCHAR":
            exprs.append(
                f"CASE WHEN regexp_matches({col}, '{_CSV_FORMULA_START}') "
                f"THEN '''' || {col} ELSE {col} END AS {col}"
            )
        else:
            exprs.append(col)
    return rel.project(", ".join(exprs))


def _json(value: Mapping[str, Any]) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
