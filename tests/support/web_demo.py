"""Shared names of the web tests: the demo logins and a login helper."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.demo.users import DEMO_PASSWORD
from cxloop.web.app import create_app

SCALE, SEED = 0.05, 5

EXECUTIVE = "demo-executive@northwind.example"
DIVISION = "demo-division@northwind.example"
REGION = "demo-region@northwind.example"
BRANCH = "demo-branch@northwind.example"
ANALYST = "demo-analyst@northwind.example"


def login(client: TestClient, email: str, password: str = DEMO_PASSWORD):
    """POST the OAuth2 password form."""
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def page_login(client: TestClient, email: str, password: str = DEMO_PASSWORD):
    """Log in through the login page's form (the client must be on https: the cookies are Secure)."""
    form = client.get("/login")
    token = CSRF_FIELD.search(form.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@dataclass(frozen=True)
class Demo:
    """The web demo: its settings, a client over its app, and each demo login's bearer header."""

    settings: Settings
    client: TestClient
    headers: dict[str, dict[str, str]]

    def as_(self, email: str) -> dict[str, str]:
        return self.headers[email]


@contextmanager
def web_demo(data_dir: Path, demo_companies) -> Iterator[Demo]:
    """A writable copy of the small demo company (scale 0.05) in ``data_dir``, served, with its logins."""
    settings = demo_companies.copy(SCALE, SEED, data_dir, secret_key="test-" + "k" * 40).settings
    with serve_demo(settings) as world:
        yield world


@contextmanager
def serve_demo(settings: Settings) -> Iterator[Demo]:
    with TestClient(create_app(settings)) as client:
        headers = {}
        for email in (EXECUTIVE, DIVISION, REGION, BRANCH, ANALYST):
            response = login(client, email)
            assert response.status_code == 200, response.text
            headers[email] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        yield Demo(settings, client, headers)
