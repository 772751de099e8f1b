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
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
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


def csv_safe(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula (text starting ``= + - @``, tab or CR
    gets a leading apostrophe, like :meth:`Store.export_table`).

    >>> csv_safe("=1+2")
    "'=1+2"
    >>> csv_safe(-3)
    -3
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@dataclass(frozen=True)
class PublicInterest:
    """Accounts that may stay named in exports (state-affiliated outlets, officials).

    ``accounts`` maps ``(platform, account_id)`` to why the account is of public interest.
    """

    accounts: dict[tuple[str, str], str] = field(default_factory=dict)

    def reason(self, platform: str, account_id: str) -> str | None:
        return self.accounts.get((platform, account_id))


def read_public_list(path: str | Path) -> list[tuple[str, str, str]]:
    """Read an analyst's list of public-interest accounts.

    One ``platform:handle-or-account-id`` per line, optionally followed by whitespace and a
    reason; ``#`` starts a comment. Returns ``(platform, value, reason)`` triples.
    """
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "public_accounts", "pseudonymisation", "a readable file", str(path)
        ) from exc
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, _, reason = line.partition(" ")
        platform, sep, value = head.partition(":")
        if not sep or not platform or not value:
            raise ConfigError(
                "public_accounts", f"{path} line {n}", "`platform:handle` or `platform:id`", head
            )
        out.append((platform.lower(), value.lstrip("@"), reason.strip() or "listed by the analyst"))
    return out


def public_interest(
    store: Store,
    *,
    registry: object | None = None,
    listed: Iterable[tuple[str, str, str]] | str | Path | None = None,
    state_media: bool = True,
) -> PublicInterest:
    """Accounts of the store that may stay named: registry outlets and an analyst's list.

    Parameters
    ----------
    registry
        A :class:`fimiscope.characterize.Registry` (default: the shipped one). Only outlets
        with a state-affiliated typology are in it; matching is on the folded handle.
    listed
        The analyst's list (see :func:`read_public_list`), or a path to one.
    state_media
        Keep registry outlets named (default True).
    """
    found: dict[tuple[str, str], str] = {}
    if state_media:
        if registry is None:
            from fimiscope.characterize import load_registry

            registry = load_registry()
        by_handle: dict[tuple[str, str], object] = registry.by_handle  # type: ignore[attr-defined]
        handles = sorted({h for _p, h in by_handle})
        if handles:
            rows = store.con.execute(
                "SELECT platform, account_id, handle_norm FROM accounts "
                "WHERE handle_norm IN (SELECT unnest(?::VARCHAR[]))",
                [handles],
            ).fetchall()
            for platform, account_id, handle in rows:
                outlet = by_handle.get((platform, handle))
                if outlet is not None:
                    found[(platform, account_id)] = (
                        f"state-affiliated outlet in the registry: {outlet.outlet} "  # type: ignore[attr-defined]
                        f"({outlet.country}, {outlet.typology})"  # type: ignore[attr-defined]
                    )
    if listed is not None:
        items = read_public_list(listed) if isinstance(listed, (str, Path)) else list(listed)
        for platform, value, reason in items:
            norm = value.lower()
            rows = store.con.execute(
                "SELECT platform, account_id FROM accounts WHERE platform = ? "
                "AND (account_id = ? OR handle_norm = ?)",
                [platform, value, norm],
            ).fetchall()
            for p, a in rows:
                found[(p, a)] = reason
    return PublicInterest(found)


_MENTION = re.compile(r"@([\w][\w.\-]*[\w]|[\w])")
_DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%\-]+")


class Identities:
    """How exports show accounts, posts and free text: keyed tokens unless raw or public.

    Parameters
    ----------
    pseudonymiser
        None for raw identifiers (an analyst's explicit choice).
    public
        Accounts that stay named.
    known
        ``(platform, account_id, handle)`` of accounts the export mentions; their raw ids and
        handles are replaced wherever they occur in free text.

    >>> ids = Identities(Pseudonymiser(b"k" * 32), known=[("x", "1001", "alice")])
    >>> ids.scrub("thanks @Alice and 1001!", "x").startswith("thanks @p_")
    True
    >>> "1001" in ids.scrub("thanks @Alice and 1001!", "x")
    False
    """

    def __init__(
        self,
        pseudonymiser: Pseudonymiser | None,
        public: PublicInterest | None = None,
        known: Iterable[tuple[str, str, str | None]] = (),
    ) -> None:
        self.pseudonymiser = pseudonymiser
        self.public = public or PublicInterest()
        self._handles: dict[tuple[str, str], str] = {}
        self._ids: dict[str, tuple[str, str]] = {}
        for platform, account_id, handle in known:
            self.add(platform, account_id, handle)

    @property
    def raw(self) -> bool:
        return self.pseudonymiser is None

    def add(self, platform: str, account_id: str, handle: str | None) -> None:
        self._ids[account_id] = (platform, account_id)
        if handle:
            self._handles[(platform, handle.lower().lstrip("@"))] = account_id

    def is_public(self, platform: str, account_id: str) -> bool:
        return self.public.reason(platform, account_id) is not None

    def account(self, platform: str, account_id: str | None) -> str | None:
        """The account's id as the export shows it."""
        if account_id is None or self.pseudonymiser is None or self.is_public(platform, account_id):
            return account_id
        return self.pseudonymiser.token(platform, "account", account_id)

    def handle(self, platform: str, account_id: str | None, handle: str | None) -> str | None:
        if handle is None or self.pseudonymiser is None:
            return handle
        if account_id is not None and self.is_public(platform, account_id):
            return handle
        return self.pseudonymiser.token(platform, "handle", handle)

    def post(self, platform: str, post_id: str | None) -> str | None:
        """A post id; Bluesky AT-URIs carry their author's DID, which becomes its token."""
        if post_id is None or self.pseudonymiser is None:
            return post_id
        return self.scrub(post_id, platform)

    def post_url(self, platform: str, post_id: str | None, url: str | None) -> str | None:
        """A link to the post that names no account (X keeps a handle-free permalink)."""
        if self.pseudonymiser is None:
            return url
        if platform == "x" and post_id and post_id.isdigit():
            return f"https://x.com/i/web/status/{post_id}"
        return None

    def scrub(self, text: str | None, platform: str | None = None) -> str | None:
        """Free text with every known raw id, DID and @handle replaced by its token."""
        if text is None or self.pseudonymiser is None:
            return text
        p = self.pseudonymiser

        def did(m: re.Match[str]) -> str:
            plat, acct = self._ids.get(m.group(0), (platform or "bluesky", m.group(0)))
            return self.account(plat, acct) or m.group(0)

        def mention(m: re.Match[str]) -> str:
            h = m.group(1).lower()
            for plat in (platform, "x", "bluesky"):
                acct = self._handles.get((plat or "", h))
                if acct is not None:
                    return "@" + (self.handle(plat or "", acct, h) or h)
            return "@" + (p.token(platform, "handle", h) or h)

        out = _DID.sub(did, text)
        out = _MENTION.sub(mention, out)
        for acct, (plat, _a) in self._ids.items():
            if acct in out and not self.is_public(plat, acct) and not acct.startswith("did:"):
                out = re.sub(
                    rf"(?<![\w]){re.escape(acct)}(?![\w])", self.account(plat, acct) or acct, out
                )
        for (plat, h), acct in self._handles.items():
            if len(h) >= 3 and h in out.lower() and not self.is_public(plat, acct):
                out = re.sub(
                    rf"(?<![\w.]){re.escape(h)}(?![\w])",
                    self.handle(plat, acct, h) or h,
                    out,
                    flags=re.IGNORECASE,
                )
        return out


__all__ = [
    "DEFAULT_KEY_FILE",
    "Identities",
    "Pseudonymiser",
    "PublicInterest",
    "csv_safe",
    "export_table",
    "pseudonymised_query",
    "public_interest",
    "read_public_list",
]
