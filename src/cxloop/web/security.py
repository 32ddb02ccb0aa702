"""Credentials for the web app: signed bearer tokens and session cookies (JWT), login throttling, CSRF.

Password hashing (argon2) lives in :mod:`cxloop.services.access.identity`, shared with the CLI and the demo.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from cxloop.config import Settings

__all__ = [
    "ACCESS_TOKEN_MINUTES",
    "SESSION_MINUTES",
    "LoginThrottle",
    "TokenError",
    "check_csrf_token",
    "create_access_token",
    "create_session_token",
    "csrf_token",
    "read_access_token",
    "read_session_token",
]

ACCESS_TOKEN_MINUTES = 60
_ALGORITHM = "HS256"
_AUDIENCE = "cxloop-api"
_SESSION_AUDIENCE = "cxloop-session"
SESSION_MINUTES = 8 * 60


class TokenError(ValueError):
    """A bearer token that is malformed, forged or expired."""


def _key(settings: Settings, purpose: str = "jwt") -> bytes:
    """A 32-byte key for one purpose, derived from ``settings.secret_key`` (HMAC-SHA256), so tokens and
    CSRF tokens never share a key. Outside development the secret itself must be long (config refuses
    placeholders)."""
    secret = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, f"cxloop:{purpose}".encode(), hashlib.sha256).digest()


def _encode(settings: Settings, claims: dict, audience: str, minutes: int, now: datetime | None) -> str:
    issued = now or datetime.now(UTC)
    payload = {**claims, "iat": issued, "exp": issued + timedelta(minutes=minutes), "aud": audience}
    return jwt.encode(payload, _key(settings), algorithm=_ALGORITHM)


def _decode(settings: Settings, token: str, audience: str) -> dict:
    try:
        return jwt.decode(
            token,
            _key(settings),
            algorithms=[_ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError(str(exc)) from None


def _user_id(claims: dict) -> int:
    try:
        return int(claims["sub"])
    except (KeyError, ValueError, TypeError) as exc:
        raise TokenError(f"bad subject: {exc}") from None


def create_access_token(
    settings: Settings, user_id: int, *, minutes: int = ACCESS_TOKEN_MINUTES, now: datetime | None = None
) -> str:
    """A JWT naming ``user_id``, signed with a key derived from ``settings.secret_key`` (HS256)."""
    return _encode(settings, {"sub": str(user_id)}, _AUDIENCE, minutes, now)


def read_access_token(settings: Settings, token: str) -> int:
    """The user id a valid API token names. Raises :class:`TokenError` otherwise (also for a session
    cookie's token: the two have different audiences)."""
    return _user_id(_decode(settings, token, _AUDIENCE))


def create_session_token(
    settings: Settings,
    user_id: int,
    session_id: str,
    *,
    minutes: int = SESSION_MINUTES,
    now: datetime | None = None,
) -> str:
    """The value of the login cookie: a JWT naming the user and a random session id (for CSRF tokens)."""
    return _encode(settings, {"sub": str(user_id), "sid": session_id}, _SESSION_AUDIENCE, minutes, now)


def read_session_token(settings: Settings, token: str) -> tuple[int, str]:
    """``(user_id, session_id)`` of a valid session cookie. Raises :class:`TokenError` otherwise."""
    claims = _decode(settings, token, _SESSION_AUDIENCE)
    session_id = claims.get("sid")
    if not isinstance(session_id, str) or not session_id:
        raise TokenError("no session id")
    return _user_id(claims), session_id


@dataclass
class LoginThrottle:
    """At most ``max_failures`` failed logins per email within ``window_seconds``; then refuse until the
    oldest failure leaves the window. A successful login clears the email's failures.

    In memory, per process: enough for one server; several workers each keep their own count.
    """

    max_failures: int = 5
    window_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def _key(email: str) -> str:
        return email.strip().lower()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] >= self.window_seconds:
            failures.popleft()
        return failures

    def retry_after(self, email: str) -> float:
        """Seconds until ``email`` may try again (0 when it may try now)."""
        with self._lock:
            now = self.clock()
            failures = self._recent(self._key(email), now)
            if len(failures) < self.max_failures:
                return 0.0
            return max(0.0, failures[0] + self.window_seconds - now)

    def failed(self, email: str) -> None:
        """Record a failed login for ``email``."""
        with self._lock:
            now = self.clock()
            self._recent(self._key(email), now).append(now)

    def succeeded(self, email: str) -> None:
        """Forget ``email``'s failures."""
        with self._lock:
            self._failures.pop(self._key(email), None)


def csrf_token(settings: Settings, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id under the secret key (a form echoes it back)."""
    return hmac.new(_key(settings, "csrf"), session_id.encode(), hashlib.sha256).hexdigest()


def check_csrf_token(settings: Settings, session_id: str, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token."""
    return bool(token) and hmac.compare_digest(csrf_token(settings, session_id), str(token))
