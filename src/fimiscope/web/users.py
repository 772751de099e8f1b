"""Dashboard users: add, remove, list, change passwords, verify log-ins (argon2id hashes).

Roles, from least to most trusted:

``viewer``
    reads every page; cannot review, cannot export.
``analyst``
    also records reviews (confirm / dismiss / annotate) and exports with pseudonymised identifiers.
``admin``
    also exports raw identifiers and reads the audit log.

>>> from fimiscope.store import Store
>>> with Store(":memory:") as st:
...     add_user(st, "aiko", "a long passphrase", role="analyst")
...     verify_password(st, "aiko", "a long passphrase")["role"]
'analyst'
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from fimiscope._sql import first_row
from fimiscope.errors import ConfigError, MissingDependencyError, NotFoundError
from fimiscope.store import Store

ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - the web extra brings it
        raise MissingDependencyError("argon2-cffi", "web") from exc
    return PasswordHasher()


def role_at_least(role: str, needed: str) -> bool:
    """``True`` when ``role`` has every right of ``needed``.

    >>> role_at_least("admin", "analyst"), role_at_least("viewer", "analyst")
    (True, False)
    """
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def _check(username: str, role: str | None, password: str | None) -> None:
    if not _NAME.match(username or ""):
        raise ConfigError("username", "add_user", "1-64 letters, digits or `_ . @ -`", username)
    if role is not None and role not in ROLES:
        raise ConfigError("role", "add_user", "one of viewer, analyst, admin", role)
    if password is not None and len(password) < MIN_PASSWORD:
        raise ConfigError(
            "password", "add_user", f"at least {MIN_PASSWORD} characters", f"{len(password)} chars"
        )


def get_user(store: Store, username: str) -> dict[str, Any] | None:
    row = first_row(
        store.con.execute(
            "SELECT username, role, created_at, password_changed_at FROM web_users "
            "WHERE username = ?",
            [username],
        )
    )
    if row is None:
        return None
    return dict(zip(("username", "role", "created_at", "password_changed_at"), row, strict=True))


def add_user(store: Store, username: str, password: str, *, role: str = "viewer") -> None:
    """Add a user; raises :class:`ConfigError` when the name is taken or a value is unusable."""
    _check(username, role, password)
    digest = _hasher().hash(password)
    now = datetime.now(UTC)
    with store.transaction() as con:
        if first_row(con.execute("SELECT 1 FROM web_users WHERE username = ?", [username])):
            raise ConfigError("username", "add_user", "a name not yet taken", username)
        con.execute(
            "INSERT INTO web_users VALUES (?, ?, ?, ?, ?)", [username, role, digest, now, now]
        )


def remove_user(store: Store, username: str) -> None:
    """Remove a user and end their sessions."""
    with store.transaction() as con:
        if not first_row(con.execute("SELECT 1 FROM web_users WHERE username = ?", [username])):
            raise NotFoundError(f"no dashboard user {username!r}")
        con.execute("DELETE FROM web_sessions WHERE username = ?", [username])
        con.execute("DELETE FROM web_users WHERE username = ?", [username])


def set_password(store: Store, username: str, password: str) -> None:
    """Change a password and end the user's sessions."""
    _check(username, None, password)
    digest = _hasher().hash(password)
    with store.transaction() as con:
        if not first_row(con.execute("SELECT 1 FROM web_users WHERE username = ?", [username])):
            raise NotFoundError(f"no dashboard user {username!r}")
        con.execute(
            "UPDATE web_users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
            [digest, datetime.now(UTC), username],
        )
        con.execute("DELETE FROM web_sessions WHERE username = ?", [username])


def set_role(store: Store, username: str, role: str) -> None:
    _check(username, role, None)
    with store.transaction() as con:
        if not first_row(con.execute("SELECT 1 FROM web_users WHERE username = ?", [username])):
            raise NotFoundError(f"no dashboard user {username!r}")
        con.execute("UPDATE web_users SET role = ? WHERE username = ?", [role, username])


def list_users(store: Store) -> list[dict[str, Any]]:
    rows = store.con.execute(
        "SELECT username, role, created_at, password_changed_at FROM web_users ORDER BY username"
    ).fetchall()
    return [
        dict(zip(("username", "role", "created_at", "password_changed_at"), r, strict=True))
        for r in rows
    ]


# A fixed hash to verify against when the user does not exist, so that a wrong name costs as
# much time as a wrong password (no user enumeration by timing).
_DUMMY_HASH: str | None = None


def verify_password(store: Store, username: str, password: str) -> dict[str, Any] | None:
    """The user (name and role) when the password is right, else ``None``."""
    global _DUMMY_HASH
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    ph = _hasher()
    row = first_row(
        store.con.execute(
            "SELECT role, password_hash FROM web_users WHERE username = ?", [username]
        )
    )
    if row is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = ph.hash("not a password of anyone")
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            ph.verify(_DUMMY_HASH, password)
        return None
    role, digest = row
    try:
        ph.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if ph.check_needs_rehash(digest):
        store.con.execute(
            "UPDATE web_users SET password_hash = ? WHERE username = ?",
            [ph.hash(password), username],
        )
    return {"username": username, "role": role}
