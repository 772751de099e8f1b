"""Tables of the analyst dashboard (migrations 60-69): its users and their sessions."""

from __future__ import annotations

from fimiscope.store.schema import C, Table

WEB_USERS = Table(
    "web_users",
    "Dashboard users. Passwords are stored only as argon2id hashes.",
    (
        C("username", "VARCHAR", "Log-in name (case-sensitive, 1-64 characters).", not_null=True),
        C(
            "role",
            "VARCHAR",
            "`viewer`, `analyst` or `admin` (see `docs/dashboard.md`).",
            not_null=True,
        ),
        C("password_hash", "VARCHAR", "argon2id hash in PHC string format.", not_null=True),
        C("created_at", "TIMESTAMPTZ", "When the user was added (UTC)."),
        C("password_changed_at", "TIMESTAMPTZ", "Last password change (UTC)."),
    ),
    key=("username",),
)

WEB_SESSIONS = Table(
    "web_sessions",
    "Open log-in sessions. The cookie holds a random token; only its SHA-256 is stored.",
    (
        C("token_hash", "VARCHAR", "SHA-256 (hex) of the session cookie's token.", not_null=True),
        C("username", "VARCHAR", "The `web_users.username` logged in.", not_null=True),
        C("csrf_token", "VARCHAR", "Per-session CSRF token that forms and scripts send back."),
        C("created_at", "TIMESTAMPTZ", "Log-in time (UTC)."),
        C("expires_at", "TIMESTAMPTZ", "The session ends at this time (UTC) at the latest."),
        C("client", "VARCHAR", "Client address at log-in."),
    ),
    key=("token_hash",),
    indexes=(("token_hash",),),
)

TABLES = (WEB_USERS, WEB_SESSIONS)

MIGRATIONS = [
    (60, "web dashboard: users and sessions", list(TABLES), []),
]
