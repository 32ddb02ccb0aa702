"""Identity: tokens, wrong passwords, throttling, disabled users and API keys."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cxloop.services.access import identity
from cxloop.store import api_keys as key_store
from cxloop.store import users as user_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import User
from cxloop.web.app import create_app
from cxloop.web.security import TokenError, create_access_token, read_access_token
from support.web_demo import BRANCH, EXECUTIVE, login


@pytest.fixture()
def client(demo_settings):
    """A fresh app (its own login throttle) over the shared demo stores."""
    with TestClient(create_app(demo_settings)) as client:
        yield client


def _session(settings):
    return session_scope(engine_for(settings))


def test_token_round_trip_and_it_opens_the_api(client):
    response = login(client, EXECUTIVE)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    units = client.get("/api/v1/units", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert units.status_code == 200


def test_email_case_does_not_matter(client):
    assert login(client, EXECUTIVE.upper()).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(client):
    wrong = login(client, EXECUTIVE, "not-the-password")
    unknown = login(client, "nobody@northwind.example", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_missing_form_fields_are_422(client):
    response = client.post("/api/v1/auth/token", data={"username": EXECUTIVE})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "password"


def test_five_failures_lock_the_email_even_with_the_right_password(client):
    for _ in range(5):
        assert login(client, BRANCH, "wrong-password").status_code == 401
    locked = login(client, BRANCH)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # other emails are not affected
    assert login(client, EXECUTIVE).status_code == 200


def test_disabled_user_cannot_log_in_and_their_token_stops_working(demo_settings, client):
    with _session(demo_settings) as session:
        identity.add_user(session, "leaver@northwind.example", "leaver-password", "manager", "br-0002")
    token = login(client, "leaver@northwind.example", "leaver-password").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/units", headers=headers).status_code == 200
    with _session(demo_settings) as session:
        user_store.disable_user(session, "leaver@northwind.example")
    assert login(client, "leaver@northwind.example", "leaver-password").status_code == 401
    assert client.get("/api/v1/units", headers=headers).status_code == 401


def test_expired_and_foreign_tokens_are_refused(demo_settings, client):
    with _session(demo_settings) as session:
        user_id = user_store.get_user_by_email(session, EXECUTIVE).id
        session_id = identity.start_session(session, user_id, "api", 60)
    live = create_access_token(demo_settings, user_id, session_id)
    assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    old = create_access_token(demo_settings, user_id, session_id, now=datetime.now(UTC) - timedelta(hours=2))
    assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    other = demo_settings.model_copy(update={"secret_key": demo_settings.secret_key.__class__("y" * 48)})
    forged = create_access_token(other, user_id, session_id)
    with pytest.raises(TokenError):
        read_access_token(demo_settings, forged)
    assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_passwords_are_stored_as_argon2_hashes(demo_settings):
    with _session(demo_settings) as session:
        user = session.query(User).filter_by(email=EXECUTIVE).one()
        assert user.password_hash.startswith("$argon2id$")
        assert "northwind-demo" not in user.password_hash
    with pytest.raises(ValueError, match="at least 8"):
        identity.hash_password("short")


def test_api_key_in_header_or_as_bearer_sees_its_unit_only(demo_settings, client):
    with _session(demo_settings) as session:
        made = key_store.create_api_key(session, "reg-north-west", name="crm sync")
        stored = session.get(type(made.record), made.record.id)
        assert made.key not in (stored.key_hash, stored.prefix)
    for headers in ({"X-API-Key": made.key}, {"Authorization": f"Bearer {made.key}"}):
        units = client.get("/api/v1/units", headers=headers)
        assert units.status_code == 200
        assert units.json()["items"][0]["unit_id"] == "reg-north-west"
        assert client.get("/api/v1/units/bank/metrics", headers=headers).status_code == 404
    wrong = made.key[:-2] + ("AA" if not made.key.endswith("AA") else "BB")
    assert client.get("/api/v1/units", headers={"X-API-Key": wrong}).status_code == 401
    with _session(demo_settings) as session:
        key_store.revoke_api_key(session, made.record.prefix)
    assert client.get("/api/v1/units", headers={"X-API-Key": made.key}).status_code == 401


def test_a_password_change_ends_every_token_of_that_user(demo_settings, client):
    with _session(demo_settings) as session:
        identity.add_user(session, "changer@northwind.example", "first-password", "manager", "br-0002")
    logins = [login(client, "changer@northwind.example", "first-password") for _ in range(2)]
    tokens = [response.json()["access_token"] for response in logins]
    for token in tokens:
        assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with _session(demo_settings) as session:
        identity.set_password(session, "changer@northwind.example", "second-password")
    for token in tokens:
        refused = client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert "session has ended" in refused.json()["error"]["message"]
    assert login(client, "changer@northwind.example", "first-password").status_code == 401
    assert login(client, "changer@northwind.example", "second-password").status_code == 200


def test_a_disabled_users_tokens_stay_dead_when_the_account_is_enabled_again(demo_settings, client):
    with _session(demo_settings) as session:
        identity.add_user(session, "returner@northwind.example", "returner-password", "manager", "br-0002")
    token = login(client, "returner@northwind.example", "returner-password").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with _session(demo_settings) as session:
        user_store.disable_user(session, "returner@northwind.example")
    with _session(demo_settings) as session:  # enabled again (there is no command for it: plain SQL)
        session.execute(
            text("UPDATE users SET is_active = true WHERE email = :e"), {"e": "returner@northwind.example"}
        )
    assert client.get("/api/v1/units", headers=headers).status_code == 401
    assert login(client, "returner@northwind.example", "returner-password").status_code == 200


def test_rejected_tokens_are_logged_without_the_token(demo_settings, client, caplog):
    other = demo_settings.model_copy(update={"secret_key": demo_settings.secret_key.__class__("z" * 48)})
    forged = create_access_token(other, 1, "made-up-session")
    with caplog.at_level(logging.WARNING, logger="cxloop.auth"):
        assert client.get("/api/v1/units", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    [record] = [r for r in caplog.records if r.name == "cxloop.auth"]
    assert record.levelno == logging.WARNING
    assert "rejected bearer token" in record.getMessage() and "/api/v1/units" in record.getMessage()
    assert "Signature verification failed" in record.getMessage()
    assert forged not in caplog.text and forged.split(".")[2] not in caplog.text
