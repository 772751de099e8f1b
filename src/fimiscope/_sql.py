"""The one place SQL identifiers are quoted. Values are always bound parameters."""

from __future__ import annotations

from typing import Any


def quote_ident(name: str) -> str:
    """Quote a SQL identifier for DuckDB.

    >>> quote_ident("posts")
    '"posts"'
    >>> quote_ident('we"ird')
    '"we""ird"'
    """
    if not name or "\x00" in name:
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def first_row(cursor: Any) -> tuple[Any, ...] | None:
    """The first row of a result, consuming it whole (DuckDB refuses new work on a connection
    while a result is half read)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None
