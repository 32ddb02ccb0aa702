"""Default settings cannot be forged into or exposed: without CXLOOP_SECRET_KEY a token signed with the
old published placeholder is refused, and the app answers only on loopback addresses."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.units import UnitRecord
from cxloop.web.app import create_app
from cxloop.web.exposure import is_loopback

ADMIN = "admin@example.com"


@pytest.fixture()
def default_settings(tmp_path, monkeypatch) -> Settings:
    """What `cxloop serve` gets with nothing configured (development, no secret), and an admin."""
    monkeypatch.delenv("CXLOOP_SECRET_KEY", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.environment == "development" and not settings.has_secret_key
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [UnitRecord("co", None, "Company", "company")])
        identity.add_user(session, ADMIN, "admin-password", "admin", "co")
    engine.dispose()
    return settings


def _signed_with(secret: str, audience: str, **claims) -> str:
    """A JWT made exactly as cxloop makes one, with the key derived from ``secret`` (what an attacker
    who read the old default ``change-me`` in the source could do)."""
    key = hmac.new(secret.encode(), b"cxloop:jwt", hashlib.sha256).digest()
    now = datetime.now(UTC)
    payload = {"sub": "1", "iat": now, "exp": now + timedelta(hours=1), "aud": audience, **claims}
    return jwt.encode(payload, key, algorithm="HS256")


def test_tokens_signed_with_the_old_placeholder_key_are_refused(default_settings, caplog):
    client = TestClient(create_app(default_settings), base_url="http://127.0.0.1", follow_redirects=False)
    for placeholder in ("change-me", ""):
        forged = _signed_with(placeholder, "cxloop-api", sid="x")
        with caplog.at_level(logging.WARNING, logger="cxloop.auth"):
            refused = client.get("/api/v1/units", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401
        cookie = _signed_with(placeholder, "cxloop-session", sid="x")
        client.cookies.set("cxloop_session", cookie)
        assert client.get("/").status_code == 303  # to the login page
        client.cookies.clear()
    assert caplog.text.count("rejected bearer token") == 2 and "Signature verification failed" in caplog.text
    # the admin's own login works, signed with the key generated for this data directory
    token = client.post("/api/v1/auth/token", data={"username": ADMIN, "password": "admin-password"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/api/v1/units", headers=headers).status_code == 200


def test_without_a_secret_the_app_warns_and_answers_on_loopback_only(default_settings, caplog):
    with caplog.at_level(logging.WARNING, logger="cxloop.auth"):
        app = create_app(default_settings)
    assert "no CXLOOP_SECRET_KEY" in caplog.text
    assert str(default_settings.development_secret_path) in caplog.text
    for local in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost:8000"):
        assert TestClient(app, base_url=local).get("/healthz").status_code == 200, local
    for outside in ("http://192.168.1.20:8000", "http://10.0.0.5", "http://[2001:db8::1]:8000"):
        refused = TestClient(app, base_url=outside).get("/healthz")
        assert refused.status_code == 503, outside
        assert refused.json()["error"]["code"] == "secret_key_required"
        assert "CXLOOP_SECRET_KEY" in refused.json()["error"]["message"]
        assert refused.headers["x-content-type-options"] == "nosniff"  # still under the security headers


def test_with_a_secret_the_app_answers_on_any_address(default_settings):
    settings = default_settings.model_copy(update={"secret_key": SecretStr("k" * 48)})
    client = TestClient(create_app(settings), base_url="http://192.168.1.20:8000")
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
