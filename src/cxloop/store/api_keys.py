"""API keys: long-lived credentials for integrations, scoped to a unit's subtree.

A key is shown once when it is made (``cxk_<prefix>_<secret>``); the database keeps its ``prefix`` (to find
the row) and the SHA-256 of the whole key (to check it). The secret is 256 random bits, so a fast hash is
safe here, unlike for passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.tables import ApiKey, Role, Unit, utcnow

__all__ = [
    "KEY_PREFIX",
    "NewApiKey",
    "create_api_key",
    "find_api_key",
    "list_api_keys",
    "live_api_key",
    "revoke_api_key",
]

KEY_PREFIX = "cxk_"


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: ``key`` is the only copy of the secret; ``record`` is the stored row."""

    key: str
    record: ApiKey


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session, unit_id: str, *, name: str = "", role: Role | str = Role.analyst
) -> NewApiKey:
    """Make a key that sees ``unit_id``'s subtree. Raises ``ValueError`` for an unknown unit or role."""
    if session.get(Unit, unit_id) is None:
        raise ValueError(f"unknown unit {unit_id!r}")
    try:
        key_role = Role(role)
    except ValueError:
        known = ", ".join(member.value for member in Role)
        raise ValueError(f"unknown role {role!r} (one of {known})") from None
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(prefix=prefix, key_hash=_digest(key), name=name, role=key_role, unit_id=unit_id)
    session.add(record)
    session.flush()
    return NewApiKey(key=key, record=record)


def live_api_key(session: Session, key: str) -> ApiKey | None:
    """The live (not revoked) key matching ``key`` exactly, or ``None``; reads only."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not prefix:
        return None
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.key_hash, _digest(key)):
        return None
    return record


def find_api_key(session: Session, key: str) -> ApiKey | None:
    """The live (not revoked) key matching ``key`` exactly, or ``None``; records when it was last used."""
    record = live_api_key(session, key)
    if record is not None:
        record.last_used_at = utcnow()
        session.flush()
    return record


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key (live and revoked), oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """Stop a key from working. Raises ``ValueError`` if no key has this prefix."""
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if record is None:
        raise ValueError(f"no API key with prefix {prefix!r}")
    record.revoked_at = utcnow()
    session.flush()
    return record
