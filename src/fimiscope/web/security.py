"""Sessions, CSRF tokens, log-in rate limiting and the security headers of every response.

Sessions live in the store (``web_sessions``): the cookie carries 32 random bytes, the table only
their SHA-256, so a copy of the store does not hand out live sessions. Each session has its own
CSRF token; every state-changing request must send it back (form field ``csrf_token`` or header
``X-CSRF-Token``). The log-in form, which comes before any session, uses a signed double-submit
token (a random nonce in a short-lived cookie, signed with the server's secret in the form).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fimiscope._sql import first_row
from fimiscope.store import Store

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    username: str
    role: str
    csrf_token: str
    token_hash: str


class Sessions:
    """Server-side sessions in ``web_sessions``."""

    def __init__(self, *, lifetime: timedelta) -> None:
        self.lifetime = lifetime

    def create(self, store: Store, username: str, client: str | None) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with store.transaction() as con:
            con.execute("DELETE FROM web_sessions WHERE expires_at < ?", [now])
            con.execute(
                "INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?, ?)",
                [_hash(token), username, csrf, now, now + self.lifetime, client],
            )
        role = first_row(
            store.con.execute("SELECT role FROM web_users WHERE username = ?", [username])
        )
        return token, Session(username, role[0] if role else "viewer", csrf, _hash(token))

    def get(self, store: Store, token: str | None) -> Session | None:
        if not token or len(token) > 200:
            return None
        row = first_row(
            store.con.execute(
                "SELECT s.username, u.role, s.csrf_token, s.token_hash FROM web_sessions s "
                "JOIN web_users u USING (username) WHERE s.token_hash = ? AND s.expires_at > ?",
                [_hash(token), datetime.now(UTC)],
            )
        )
        return Session(*row) if row else None

    def end(self, store: Store, session: Session) -> None:
        store.con.execute("DELETE FROM web_sessions WHERE token_hash = ?", [session.token_hash])


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


class LoginCsrf:
    """Signed double-submit token for the log-in form (there is no session yet)."""

    MAX_AGE = 3600

    def __init__(self, secret: bytes) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self._s = URLSafeTimedSerializer(secret, salt="fimiscope-login")

    def issue(self) -> tuple[str, str]:
        """(nonce for the cookie, signed token for the form)."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._s.dumps(nonce)

    def check(self, cookie_nonce: str | None, form_token: str | None) -> bool:
        from itsdangerous import BadSignature

        if not cookie_nonce or not form_token:
            return False
        try:
            nonce = self._s.loads(form_token, max_age=self.MAX_AGE)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie_nonce)


class RateLimiter:
    """Failed log-ins allowed per key (client address, and user name) in a sliding window."""

    def __init__(self, *, attempts: int = 5, window_s: float = 300.0) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before another attempt is allowed (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if len(q) >= self.attempts:
                    wait = max(wait, self.window_s - (now - q[0]))
        return wait

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._prune(key, now).append(now)
            if len(self._fails) > 10_000:  # bound memory under a spray of names
                for k in [k for k, q in self._fails.items() if not q]:
                    del self._fails[k]

    def reset(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._fails.pop(key, None)


def cookie_args(*, tls: bool) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": tls, "path": "/"}
