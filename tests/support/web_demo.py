"""Shared names of the web tests: the demo logins and a login helper."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD

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
