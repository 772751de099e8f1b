"""Keyed pseudonyms for exports that leave the analyst's store.

Account identifiers and handles become ``HMAC-SHA-256(key, "<platform>:<kind>:<value>")``
tokens: consistent across exports made with the same key, unlinkable without it. The key lives
in a file outside the store and is never written into any export.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import duckdb
import pyarrow as pa

from fimiscope._sql import quote_ident
from fimiscope.errors import ConfigError, NotFoundError
from fimiscope.store import Store

DEFAULT_KEY_FILE = Path("~/.config/fimiscope/pseudonym.key")
TOKEN_PREFIX = "p_"  # noqa: S105 - a label for tokens, not a secret

# column name -> what it identifies; None drops the value (free text that names the person).
ID_COLUMNS: dict[str, str | None] = {
    "account_id": "account",
    "ref_account_id": "account",
    "target_account_id": "account",
    "mentioned_account_id": "account",
    "account_a": "account",
    "account_b": "account",
    "handle": "handle",
    "handle_norm": "handle",
    "display_name": None,
    "description": None,
    "profile_image_url": None,
    "location": None,
    "url": None,
}
_TABLE_URL_KEEP = {"post_urls", "post_media"}  # there `url` is the shared link, not a profile


class Pseudonymiser:
    """Turns identifiers into keyed tokens.

    >>> p = Pseudonymiser(b"k" * 32)
    >>> p.token("x", "account", "1001") == p.token("x", "account", "1001")
    True
    >>> p.token("x", "account", "1001").startswith("p_")
    True
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigError("key", "Pseudonymiser", "at least 16 bytes", f"{len(key)} bytes")
        self._key = key

    @classmethod
    def from_key_file(cls, path: Path | None = None) -> Pseudonymiser:
        """Read the key file, creating it (mode 600, 32 random bytes) when it does not exist."""
        path = (path or DEFAULT_KEY_FILE).expanduser()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        text = path.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = text.encode()
        return cls(key)

    def token(self, platform: str | None, kind: str, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        if kind == "handle":
            value = value.lower().lstrip("@")
        msg = f"{platform or ''}:{'account' if kind == 'account' else kind}:{value}".encode()
        return TOKEN_PREFIX + hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:24]

    def register(self, con: duckdb.DuckDBPyConnection) -> str:
        """Register SQL ``fimiscope_pseudonym(platform, kind, value)``; return its name."""
        name = "fimiscope_pseudonym"

        def fn(platform: pa.Array, kind: pa.Array, value: pa.Array) -> pa.Array:
            out = [
                self.token(p, k, v)
                for p, k, v in zip(
                    platform.to_pylist(), kind.to_pylist(), value.to_pylist(), strict=True
                )
            ]
            return pa.array(out, pa.string())

        with contextlib.suppress(duckdb.Error):
            con.remove_function(name)
        con.create_function(
            name, fn, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR", type="arrow", side_effects=False
        )
        return name


def pseudonymised_query(
    con: duckdb.DuckDBPyConnection,
    table: str,
    pseudonymiser: Pseudonymiser,
    keep_accounts: frozenset[str] = frozenset(),
) -> str:
    """SELECT over ``table`` with identifying columns replaced by tokens (or dropped)."""
    fn = pseudonymiser.register(con)
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    if not cols:
        raise NotFoundError(f"no table {table!r}")
    has_platform = "platform" in cols
    exprs = []
    for c in cols:
        kind = ID_COLUMNS.get(c, "keep")
        q = quote_ident(c)
        if kind == "keep" or (c == "url" and table in _TABLE_URL_KEEP):
            exprs.append(q)
        elif kind is None:
            exprs.append(f"NULL::VARCHAR AS {q}")
        else:
            plat = quote_ident("platform") if has_platform else "NULL"
            exprs.append(f"{fn}({plat}, '{kind}', {q}::VARCHAR) AS {q}")
    del keep_accounts  # public-interest exemptions are applied by the report exporters
    return f"SELECT {', '.join(exprs)} FROM {quote_ident(table)}"


def export_table(
    store: Store,
    table: str,
    out: str | Path,
    *,
    fmt: str = "parquet",
    pseudonymiser: Pseudonymiser | None = None,
) -> int:
    """Export ``table`` to Parquet or CSV, pseudonymised unless ``pseudonymiser`` is None."""
    if table not in store.tables():
        raise NotFoundError(
            f"no table {table!r} in {store.path}; tables: " + ", ".join(store.tables())
        )
    if fmt not in ("parquet", "csv"):
        raise ConfigError("format", "export", "'parquet' or 'csv'", fmt)
    query = None if pseudonymiser is None else pseudonymised_query(store.con, table, pseudonymiser)
    return store.export_table(table, out, fmt=fmt, query=query)  # type: ignore[arg-type]


__all__ = ["DEFAULT_KEY_FILE", "Pseudonymiser", "export_table", "pseudonymised_query"]
