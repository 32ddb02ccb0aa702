"""Users: who logs in, with what role, scoped to which unit's subtree.

Passwords are hashed and checked by :mod:`cxloop.services.access.identity`; this module only stores the
hash it is given. Emails are stored in lower case and are unique, so look-ups ignore case.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.logins import end_all_sessions
from cxloop.store.tables import Role, Unit, User

__all__ = [
    "create_user",
    "disable_user",
    "get_user_by_email",
    "list_users",
    "normalise_email",
    "set_password_hash",
]


def normalise_email(email: str) -> str:
    """The stored form of an email: trimmed and in lower case."""
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    role: Role | str,
    unit_id: str,
    name: str = "",
    password_hash: str | None = None,
) -> User:
    """Add a user who sees ``unit_id``'s subtree.

    Raises
    ------
    ValueError
        If the email is malformed or already taken, the role is unknown or the unit does not exist.
    """
    address = normalise_email(email)
    local, _, domain = address.partition("@")
    if not local or not domain or " " in address:
        raise ValueError(f"not an email address: {email!r}")
    try:
        user_role = Role(role)
    except ValueError:
        known = ", ".join(member.value for member in Role)
        raise ValueError(f"unknown role {role!r} (one of {known})") from None
    if session.get(Unit, unit_id) is None:
        raise ValueError(
            f"unknown unit {unit_id!r}: import the org hierarchy first (cxloop import units FILE)"
        )
    if get_user_by_email(session, address) is not None:
        raise ValueError(f"a user with email {address!r} already exists")
    user = User(
        email=address, role=user_role, unit_id=unit_id, name=name, password_hash=password_hash, is_active=True
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, *, include_disabled: bool = True) -> list[User]:
    """Every user, by email."""
    query = select(User).order_by(User.email)
    if not include_disabled:
        query = query.where(User.is_active.is_(True))
    return list(session.scalars(query))


def get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email (any case), or ``None``."""
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def _existing(session: Session, email: str) -> User:
    user = get_user_by_email(session, email)
    if user is None:
        raise ValueError(f"no user with email {normalise_email(email)!r}")
    return user


def disable_user(session: Session, email: str) -> User:
    """Stop a user from logging in and end every session and token of theirs (their history stays).
    Raises ``ValueError`` if there is no such user."""
    user = _existing(session, email)
    user.is_active = False
    session.flush()
    end_all_sessions(session, user.id)
    return user


def set_password_hash(session: Session, email: str, password_hash: str) -> User:
    """Give a user a new password hash and end every session and token of theirs (whoever knew the old
    password is logged out). Raises ``ValueError`` if there is no such user."""
    user = _existing(session, email)
    user.password_hash = password_hash
    session.flush()
    end_all_sessions(session, user.id)
    return user
