"""Login throttling holds under concurrency: of 100 simultaneous guesses at most the documented number
reach the password check, per e-mail (5) and per client address (20), through the API and the login page.

Each guess's password check is counted (``identity.authenticate`` wrapped: one argon2 verification each)
and held until every guess has either reached its check or been refused, so all 100 are in flight at once
whatever the machine's speed: a throttle that decides after the check lets every one of them through.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.units import UnitRecord
from cxloop.web.app import create_app
from cxloop.web.security import LoginThrottle

GUESSES = 100
PASSWORD = "the-right-password"
EMAILS = [f"user{i:03d}@example.com" for i in range(GUESSES)]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Settings:
    """One unit and 100 users with passwords (no demo data: only logins are tried, always for known
    e-mails: an unknown one is checked against a default-cost hash)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("logins"), environment="test", secret_key="test-" + "t" * 40
    )
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    # Cheap argon2 parameters (kept in the hash, so verifying uses them too): the tests count checks, and
    # 100 concurrent checks at the default 64 MiB each would take 6 GiB on code that lets them all through.
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [UnitRecord("co", None, "Company", "company")])
        for email in EMAILS:
            identity.user_store.create_user(session, email, "manager", "co", password_hash=password_hash)
    engine.dispose()
    return settings


class CountedChecks:
    """Wraps ``identity.authenticate``: counts the checks and holds each until all guesses are decided."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, expected: int) -> None:
        self.checked = 0
        self.refused = 0
        self.expected = expected
        self._cond = threading.Condition()
        real = identity.authenticate

        def counting(session, email, password):
            with self._cond:
                self.checked += 1
                self._cond.notify_all()
                # 60 s only guards against a hang; the condition is met as soon as every guess is in.
                self._cond.wait_for(lambda: self.checked + self.refused >= self.expected, timeout=60)
            return real(session, email, password)

        monkeypatch.setattr(identity, "authenticate", counting)

    def was_refused(self) -> None:
        with self._cond:
            self.refused += 1
            self._cond.notify_all()


def _api_guess(client: TestClient, email: str) -> int:
    return client.post("/api/v1/auth/token", data={"username": email, "password": "wrong-guess"}).status_code


def _concurrently(checks: CountedChecks, guess, emails: list[str]) -> list[int]:
    def one(email: str) -> int:
        status = guess(email)
        if status == 429:
            checks.was_refused()
        return status

    with ThreadPoolExecutor(len(emails)) as pool:
        return list(pool.map(one, emails))


def test_100_concurrent_guesses_for_one_email_check_at_most_5(world, monkeypatch):
    client = TestClient(create_app(world))  # no lifespan: each request its own event loop and thread pool
    checks = CountedChecks(monkeypatch, GUESSES)
    statuses = _concurrently(checks, lambda email: _api_guess(client, email), [EMAILS[0]] * GUESSES)
    assert checks.checked == 5
    assert statuses.count(401) == 5 and statuses.count(429) == GUESSES - 5


def test_100_concurrent_guesses_over_100_accounts_from_one_address_check_at_most_20(world, monkeypatch):
    client = TestClient(create_app(world))
    checks = CountedChecks(monkeypatch, GUESSES)
    statuses = _concurrently(checks, lambda email: _api_guess(client, email), EMAILS)
    assert checks.checked == 20
    assert statuses.count(401) == 20 and statuses.count(429) == GUESSES - 20


def test_the_login_page_holds_the_same_limits_under_concurrency(world, monkeypatch):
    app = create_app(world)
    checks = CountedChecks(monkeypatch, GUESSES)

    def guess(email: str) -> int:
        # A browser of its own per guess: each login form sets its own CSRF cookie.
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        data = {"email": email, "password": "wrong-guess", "csrf_token": token}
        return client.post("/login", data=data).status_code

    statuses = _concurrently(checks, guess, [EMAILS[1]] * GUESSES)
    assert checks.checked == 5
    assert statuses.count(401) == 5 and statuses.count(429) == GUESSES - 5


def test_the_address_limit_spans_accounts_and_a_success_does_not_reset_it(world):
    throttle = LoginThrottle()
    client = TestClient(create_app(world, login_throttle=throttle))
    # 19 failures over 19 accounts, then a valid login: still allowed (successes do not count)...
    for email in EMAILS[:19]:
        assert _api_guess(client, email) == 401
    good = {"username": EMAILS[50], "password": PASSWORD}
    assert client.post("/api/v1/auth/token", data=good).status_code == 200
    # ...and do not clear the address's failures: the 20th failure fills the window
    assert _api_guess(client, EMAILS[19]) == 401
    refused = client.post("/api/v1/auth/token", data={"username": EMAILS[60], "password": PASSWORD})
    assert refused.status_code == 429
    assert "for this address" in refused.json()["error"]["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
