"""Credentials for the web app: signed bearer tokens (JWT), login throttling and CSRF tokens.

Password hashing (argon2) lives in :mod:`cxloop.services.identity`, shared with the CLI and the demo.
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
    "LoginThrottle",
    "TokenError",
    "check_csrf_token",
    "create_access_token",
    "csrf_token",
    "read_access_token",
]

ACCESS_TOKEN_MINUTES = 60
_ALGORITHM = "HS256"
_AUDIENCE = "cxloop-api"


class TokenError(ValueError):
    """A bearer token that is malformed, forged or expired."""


def _key(settings: Settings, purpose: str = "jwt") -> bytes:
    """A 32-byte key for one purpose, derived from ``settings.secret_key`` (HMAC-SHA256), so tokens and
    CSRF tokens never share a key. Outside development the secret itself must be long (config refuses
    placeholders)."""
    secret = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, f"cxloop:{purpose}".encode(), hashlib.sha256).digest()


def create_access_token(
    settings: Settings, user_id: int, *, minutes: int = ACCESS_TOKEN_MINUTES, now: datetime | None = None
) -> str:
    """A JWT naming ``user_id``, signed with ``settings.secret_key`` (HS256), valid for ``minutes``."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + timedelta(minutes=minutes),
        "aud": _AUDIENCE,
    }
    return jwt.encode(claims, _key(settings), algorithm=_ALGORITHM)


def read_access_token(settings: Settings, token: str) -> int:
    """The user id a valid token names. Raises :class:`TokenError` otherwise."""
    try:
        claims = jwt.decode(
            token,
            _key(settings),
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "sub"]},
        )
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise TokenError(str(exc)) from None


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
