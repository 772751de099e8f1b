"""Numbered, forward-only schema migrations.

The store records every applied migration in ``schema_meta``. Opening a store applies the
missing ones in order, each in its own transaction. A store written by a newer fimiscope
(whose highest version is unknown here) is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from fimiscope import __version__
from fimiscope._sql import first_row
from fimiscope.errors import SchemaVersionError
from fimiscope.store.schema import CORE_TABLES, SCHEMA_META, Table


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    tables: tuple[Table, ...] = ()
    statements: tuple[str, ...] = ()
    apply: Callable[[duckdb.DuckDBPyConnection], None] | None = field(default=None, compare=False)


def _core() -> Migration:
    return Migration(
        1,
        "canonical store: sources, accounts, posts, engagements, entities, rejects, runs",
        tables=tuple(t for t in CORE_TABLES if t is not SCHEMA_META),
        statements=("CREATE SEQUENCE IF NOT EXISTS source_id_seq START 1",),
    )


def all_migrations() -> list[Migration]:
    """Every migration this version knows, in order. Subsystems append theirs here."""
    migrations = [_core()]
    from fimiscope.store import registry

    migrations.extend(registry.subsystem_migrations())
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return migrations


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = first_row(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_meta'"
        )
    )
    if not exists or not exists[0]:
        return set()
    return {int(r[0]) for r in con.execute("SELECT version FROM schema_meta").fetchall()}


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)


def migrate(
    con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] | None = None
) -> list[int]:
    """Apply missing migrations; return the versions applied."""
    migrations = list(migrations) if migrations is not None else all_migrations()
    known = {m.version for m in migrations}
    have = applied_versions(con)
    unknown = sorted(have - known)
    if unknown:
        raise SchemaVersionError(
            f"the store has schema migrations {unknown} that this fimiscope ({__version__}) "
            "does not know; upgrade fimiscope to open it"
        )
    applied: list[int] = []
    todo = [m for m in migrations if m.version not in have]
    if not todo:
        return applied
    # All missing migrations in one transaction: the store moves from one known schema to
    # another or not at all (and a new store is made with one commit, not one per step).
    con.execute("BEGIN TRANSACTION")
    try:
        for stmt in SCHEMA_META.ddl():
            con.execute(stmt)
        for m in todo:
            for table in m.tables:
                for stmt in table.ddl():
                    con.execute(stmt)
            for stmt in m.statements:
                con.execute(stmt)
            if m.apply is not None:
                m.apply(con)
            con.execute(
                "INSERT INTO schema_meta VALUES (?, ?, ?, ?)",
                [m.version, m.description, datetime.now(UTC), __version__],
            )
            applied.append(m.version)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return applied
