"""Credentials for the web app: signed bearer tokens and session cookies (JWT), login throttling, CSRF.

Password hashing (argon2) and the server-side sessions every token names live in
:mod:`cxloop.services.access.identity`, shared with the CLI and the demo: a token is only as good as its
session, which logout, a password change and disabling the user end.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from cxloop.config import Settings

__all__ = [
    "ACCESS_TOKEN_MINUTES",
    "SESSION_MINUTES",
    "LoginAttempt",
    "LoginRefused",
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
# The throttle's tables are swept of expired keys once they hold this many (then whenever they double).
_SWEEP_FROM = 1024


class TokenError(ValueError):
    """A bearer token that is malformed, forged or expired."""


def _key(settings: Settings, purpose: str = "jwt") -> bytes:
    """A 32-byte key for one purpose, derived from the signing secret (HMAC-SHA256), so tokens and CSRF
    tokens never share a key. The secret is ``CXLOOP_SECRET_KEY`` (config refuses placeholders outside
    development), or in development without one a random key kept in the data directory
    (:meth:`~cxloop.config.Settings.signing_secret`)."""
    secret = settings.signing_secret().get_secret_value().encode("utf-8")
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


def _session_id(claims: dict) -> str:
    session_id = claims.get("sid")
    if not isinstance(session_id, str) or not session_id:
        raise TokenError("no session id")
    return session_id


def create_access_token(
    settings: Settings,
    user_id: int,
    session_id: str,
    *,
    minutes: int = ACCESS_TOKEN_MINUTES,
    now: datetime | None = None,
) -> str:
    """A JWT naming ``user_id`` and its server-side session ``session_id``, signed with a key derived from
    the signing secret (HS256). It works while the session lives (:mod:`cxloop.services.access.identity`)."""
    return _encode(settings, {"sub": str(user_id), "sid": session_id}, _AUDIENCE, minutes, now)


def read_access_token(settings: Settings, token: str) -> tuple[int, str]:
    """``(user_id, session_id)`` of a valid API token. Raises :class:`TokenError` otherwise (also for a
    session cookie's token: the two have different audiences). Whether the session still lives is the
    caller's to check."""
    claims = _decode(settings, token, _AUDIENCE)
    return _user_id(claims), _session_id(claims)


def create_session_token(
    settings: Settings,
    user_id: int,
    session_id: str,
    *,
    minutes: int = SESSION_MINUTES,
    now: datetime | None = None,
) -> str:
    """The value of the login cookie: a JWT naming the user and their server-side session (whose id also
    keys the CSRF tokens)."""
    return _encode(settings, {"sub": str(user_id), "sid": session_id}, _SESSION_AUDIENCE, minutes, now)


def read_session_token(settings: Settings, token: str) -> tuple[int, str]:
    """``(user_id, session_id)`` of a valid session cookie. Raises :class:`TokenError` otherwise. Whether
    the session still lives is the caller's to check."""
    claims = _decode(settings, token, _SESSION_AUDIENCE)
    return _user_id(claims), _session_id(claims)


class LoginRefused(Exception):
    """A login attempt refused before its password is checked: too many recent failures for the e-mail
    (``limit == "email"``) or from the client address (``limit == "address"``)."""

    def __init__(self, limit: str, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"too many failed logins for this {limit}; retry in {math.ceil(retry_after)} s")


@dataclass
class _Window:
    """One key's failures within the sliding window, plus its attempts reserved and not yet decided."""

    failures: deque[float] = field(default_factory=deque)
    pending: int = 0

    def prune(self, now: float, seconds: float) -> None:
        while self.failures and now - self.failures[0] >= seconds:
            self.failures.popleft()

    def count(self) -> int:
        return len(self.failures) + self.pending


class _Limit:
    """At most ``limit`` failures (decided or pending) per key within ``seconds``."""

    def __init__(self, name: str, limit: int, seconds: float) -> None:
        self.name, self.limit, self.seconds = name, limit, seconds
        self.windows: dict[str, _Window] = {}
        self._sweep_at = _SWEEP_FROM

    def window(self, key: str, now: float) -> _Window:
        window = self.windows.get(key)
        if window is None:
            self._sweep(now)
            window = self.windows[key] = _Window()
        window.prune(now, self.seconds)
        return window

    def refusal(self, window: _Window, now: float) -> LoginRefused | None:
        if window.count() < self.limit:
            return None
        # Pending attempts have no time yet: if they alone fill the window, retry once they are decided.
        wait = window.failures[0] + self.seconds - now if window.failures else 1.0
        return LoginRefused(self.name, max(1.0, wait))

    def forget_if_idle(self, key: str) -> None:
        window = self.windows.get(key)
        if window is not None and window.count() == 0:
            del self.windows[key]

    def _sweep(self, now: float) -> None:
        """Forget keys whose failures have all left the window, whenever the table has doubled since the
        last sweep (so e-mails or addresses tried once do not pile up; amortised constant time)."""
        if len(self.windows) < self._sweep_at:
            return
        for key in list(self.windows):
            window = self.windows[key]
            window.prune(now, self.seconds)
            if window.count() == 0:
                del self.windows[key]
        self._sweep_at = max(_SWEEP_FROM, 2 * len(self.windows))


@dataclass
class LoginAttempt:
    """One reserved login attempt (from :meth:`LoginThrottle.attempt`)."""

    ok: bool = False

    def succeeded(self) -> None:
        """The password matched: the attempt is not a failure and the e-mail's failures are forgotten."""
        self.ok = True


@dataclass
class LoginThrottle:
    """At most ``max_failures`` failed logins per e-mail within ``window_seconds`` and at most
    ``address_max_failures`` per client address within ``address_window_seconds``.

    Every attempt is *reserved* (:meth:`attempt`) under a lock before its password is checked, and a
    reservation counts as a failure until it is decided, so concurrent guesses cannot all pass the check
    before the first failure is recorded: of any number of simultaneous guesses for one e-mail, at most
    ``max_failures`` reach the password check. A success forgets the e-mail's failures, never the
    address's (a valid account must not reset an address that guesses at others).

    In memory, per process. cxloop serves from one process (the embedded warehouse has one writer); several
    workers would each keep their own counts, multiplying the limits by the number of workers.
    """

    max_failures: int = 5
    window_seconds: float = 15 * 60
    address_max_failures: int = 20
    address_window_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._emails = _Limit("email", self.max_failures, self.window_seconds)
        self._addresses = _Limit("address", self.address_max_failures, self.address_window_seconds)

    @contextmanager
    def attempt(self, email: str, address: str) -> Iterator[LoginAttempt]:
        """Reserve one login attempt for ``email`` from ``address``, or raise :class:`LoginRefused`.

        Check the password inside the block and call :meth:`LoginAttempt.succeeded` if it matched; an
        attempt left undecided when the block ends (a wrong password, or an error) counts as a failure.
        """
        email_key = email.strip().lower()
        with self._lock:
            now = self.clock()
            by_email = self._emails.window(email_key, now)
            by_address = self._addresses.window(address, now)
            refusal = self._emails.refusal(by_email, now) or self._addresses.refusal(by_address, now)
            if refusal is not None:
                self._emails.forget_if_idle(email_key)
                self._addresses.forget_if_idle(address)
                raise refusal
            by_email.pending += 1
            by_address.pending += 1
        outcome = LoginAttempt()
        try:
            yield outcome
        finally:
            with self._lock:
                now = self.clock()
                by_email.pending -= 1
                by_address.pending -= 1
                if outcome.ok:
                    by_email.failures.clear()
                else:
                    by_email.failures.append(now)
                    by_address.failures.append(now)
                # Windows with pending attempts are never dropped, so these are still the tables' own.
                self._emails.forget_if_idle(email_key)
                self._addresses.forget_if_idle(address)


def csrf_token(settings: Settings, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id under the secret key (a form echoes it back)."""
    return hmac.new(_key(settings, "csrf"), session_id.encode(), hashlib.sha256).hexdigest()


def check_csrf_token(settings: Settings, session_id: str, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token."""
    # compared as bytes: compare_digest refuses str with non-ASCII characters (a forged token may hold any)
    expected = csrf_token(settings, session_id).encode()
    return bool(token) and hmac.compare_digest(expected, str(token).encode("utf-8", "surrogatepass"))
