"""Who someone is: argon2 password hashes, users with passwords, logging in and their login sessions.

The web layer (tokens, cookies, throttling) and the CLI (``cxloop users add``) both call these; the demo
uses them to create its logins. Stored hashes are argon2id strings (argon2-cffi's defaults), upgraded on
the next login when the parameters change.

Every session cookie and API token names a server-side login session (:mod:`cxloop.store.logins`) and
works only while it lives: :func:`end_session` (logout) ends one, :func:`set_password`, disabling the user
and :func:`end_all_sessions` end all of a user's.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.store import api_keys as key_store
from cxloop.store import logins
from cxloop.store import users as user_store
from cxloop.store.api_keys import KEY_PREFIX
from cxloop.store.audit import Actor
from cxloop.store.tables import Role, User

__all__ = [
    "KEY_PREFIX",
    "MIN_PASSWORD_LENGTH",
    "Actor",
    "User",
    "add_user",
    "api_key_is_live",
    "audit_actor",
    "authenticate",
    "end_all_sessions",
    "end_session",
    "get_user",
    "hash_password",
    "session_is_live",
    "set_password",
    "start_session",
    "user_emails",
    "verify_password",
    "viewer_for_api_key",
]

MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()
# Checked against when the email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``. Raises ``ValueError`` if it is shorter than 8 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``False`` for a missing or malformed hash)."""
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def add_user(
    session: Session, email: str, password: str, role: Role | str, unit_id: str, name: str = ""
) -> User:
    """Create a user who logs in with ``password``. Raises ``ValueError`` as :func:`create_user` does,
    or for a too-short password."""
    return user_store.create_user(
        session, email, role, unit_id, name=name, password_hash=hash_password(password)
    )


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or ``None`` (unknown, wrong password or disabled).

    An unknown email still costs one argon2 verification, so response times do not reveal which emails
    exist. The password is verified with no database connection held: the user is read in a short session
    of its own, whose connection is back in the pool before argon2 runs (tens of milliseconds of CPU), so a
    burst of logins cannot hold every pooled connection while they wait for the CPU (21 of 100 concurrent
    logins answered 500 when each held one). ``session`` is used only after a match.
    """
    with Session(session.get_bind()) as lookup:
        found = user_store.get_user_by_email(lookup, email)
        user_id, password_hash = (found.id, found.password_hash) if found is not None else (None, None)
    if user_id is None or not password_hash:
        try:
            _HASHER.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    if not verify_password(password_hash, password):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.password_hash != password_hash:
        return None  # disabled, removed or given a new password while the password was being checked
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """Give a user a new password and end every session and token of theirs. Raises ``ValueError`` for an
    unknown user or a too-short password."""
    return user_store.set_password_hash(session, email, hash_password(password))


def start_session(session: Session, user_id: int, kind: str, minutes: int) -> str:
    """Open a login session (``kind``: ``page`` for a cookie, ``api`` for a bearer token) lasting
    ``minutes``; returns the id the token must carry."""
    return logins.open_session(session, user_id, kind, minutes)


def session_is_live(session: Session, user_id: int, session_id: str) -> bool:
    """Whether a token's session is still open for its user (not logged out, password unchanged, user not
    disabled since it was issued)."""
    return logins.is_live(session, user_id, session_id)


def end_session(session: Session, session_id: str) -> bool:
    """Log one session out (its cookie or token stops working at once); whether it was live."""
    return logins.end_session(session, session_id)


def end_all_sessions(session: Session, user_id: int) -> int:
    """Log a user out everywhere (every cookie and token of theirs); how many sessions ended."""
    return logins.end_all_sessions(session, user_id)


def viewer_for_api_key(session: Session, key: str) -> Viewer | None:
    """The viewer a live API key acts as, or ``None``."""
    record = key_store.find_api_key(session, key)
    if record is None:
        return None
    return Viewer(unit_id=record.unit_id, role=Role(record.role))


def api_key_is_live(session: Session, key: str) -> bool:
    """Whether ``key`` is a live API key, without recording its use (a check before a request's body is
    read; :func:`viewer_for_api_key` follows once it is)."""
    return key_store.live_api_key(session, key) is not None


def get_user(session: Session, user_id: int) -> User | None:
    """The user with this id (active or not), or ``None``."""
    return session.get(User, user_id)


def user_emails(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """``{user id: e-mail}`` of the users among ``user_ids`` that exist (``None`` ids are skipped)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(wanted))).all())


def audit_actor(session: Session, viewer: Viewer, *, otherwise: str) -> Actor:
    """Who an audit trail names for a viewer: the user (by e-mail), or, for a viewer without a user (an API
    key, the command line), the system actor ``otherwise``."""
    if viewer.user_id is not None:
        user = session.get(User, viewer.user_id)
        if user is not None:
            return Actor.user(user.id, user.email)
    return Actor.system(otherwise)
