"""Request bodies: refused unread without credentials, refused at their limit, counted while read.

Every test calls the app through a counting ``receive`` (support/asgi_body.py) and asserts on the body
bytes the app pulled before answering -- what a server would have had to take in -- not on memory.
Before BodyGuard (issue 23, defect 3) FastAPI read and parsed every body before the credentials
dependency ran: three 100 MB posts without a key took the server from 333 to 1,131 MB before the 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cxloop.config import Settings
from cxloop.services.access.identity import add_user, start_session
from cxloop.services.listen.imports import import_file
from cxloop.store.api_keys import create_api_key
from cxloop.store.db import engine_for, session_scope
from cxloop.web.app import create_app
from cxloop.web.limits import body_rule
from cxloop.web.security import create_access_token, create_session_token
from support.asgi_body import call, repeated
from support.export_samples import MANAGER, PASSWORD, UNITS_CSV

MB = 1 << 20
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class World:
    settings: Settings
    key: str
    user_id: int
    api_session: str
    page_session: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp: Path = tmp_path_factory.mktemp("limits")
    settings = Settings(
        data_dir=tmp / "data",
        environment="test",
        secret_key="test-" + "k" * 40,
        max_json_body_bytes=64 << 10,
        max_form_body_bytes=32 << 10,
        webhook_secrets={"qualtrics": "s3cret-" + "x" * 30},
    )
    units = tmp / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    assert import_file("units", units, settings=settings).accepted == 4
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            user = add_user(session, MANAGER, PASSWORD, "manager", "bank")
            key = create_api_key(session, "b01", name="limits").key
            user_id = user.id
            api_session = start_session(session, user_id, "api", 60)
            page_session = start_session(session, user_id, "page", 60)
    finally:
        engine.dispose()
    return World(settings, key, user_id, api_session, page_session)


@pytest.fixture(scope="module")
def app(world: World):
    return create_app(world.settings)


def bearer(world: World, **token_options) -> dict[str, str]:
    token = create_access_token(world.settings, world.user_id, world.api_session, **token_options)
    return {"authorization": f"Bearer {token}"}


def session_cookie(world: World) -> dict[str, str]:
    return {
        "cookie": f"cxloop_session={create_session_token(world.settings, world.user_id, world.page_session)}"
    }


# --- no credentials: answered before a byte is read --------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_unauthenticated_100_mb_post_is_answered_without_reading_it(app, declared: bool) -> None:
    size = 100 * MB
    answer = call(
        app, "POST", "/api/v1/responses", repeated(size), JSON, content_length=size if declared else None
    )
    assert answer.status in (401, 413), answer.text
    assert answer.consumed == 0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "log in"),
        ({"x-api-key": "cxk_000000000000_made-up"}, "API key is not valid"),
        ({"authorization": "Bearer cxk_000000000000_made-up"}, "API key is not valid"),
        ({"authorization": "Bearer not.a.jwt"}, "bearer token is not valid"),
    ],
    ids=["none", "unknown-key", "unknown-key-as-bearer", "forged-token"],
)
def test_posts_without_valid_api_credentials_get_the_401_unread(app, headers, message) -> None:
    answer = call(
        app, "POST", "/api/v1/responses", repeated(32 << 10), {**JSON, **headers}, content_length=32 << 10
    )
    assert answer.status == 401 and message in answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.consumed == 0


def test_an_expired_token_is_refused_unread(app, world: World) -> None:
    expired = bearer(world, now=datetime.now(UTC) - timedelta(days=1))
    answer = call(app, "PATCH", "/api/v1/actions/1", repeated(1024), {**JSON, **expired}, content_length=1024)
    assert answer.status == 401 and answer.consumed == 0


def test_a_form_post_without_a_session_goes_to_the_login_page_unread(app) -> None:
    answer = call(app, "POST", "/actions", repeated(16 << 10), FORM, content_length=16 << 10)
    assert answer.status == 303 and answer.headers["location"] == "/login"
    assert answer.consumed == 0


def test_an_unsigned_webhook_delivery_is_refused_unread(app) -> None:
    answer = call(
        app, "POST", "/api/v1/webhooks/qualtrics", repeated(32 << 10), JSON, content_length=32 << 10
    )
    assert answer.status == 401 and "missing X-Cxloop-Signature" in answer.text
    assert answer.consumed == 0


# --- over the limit: 413 -----------------------------------------------------------------------------


def test_an_oversized_content_length_is_refused_at_once(app, world: World) -> None:
    size = 10 * MB
    answer = call(
        app, "POST", "/api/v1/responses", repeated(size), {**JSON, **bearer(world)}, content_length=size
    )
    assert answer.status == 413 and answer.consumed == 0
    error = answer.text
    assert '"code":"too_large"' in error and "64 KB" in error and "CXLOOP_MAX_JSON_BODY_BYTES" in error
    assert answer.headers["x-content-type-options"] == "nosniff"  # the security headers on the 413 too


def test_a_chunked_body_over_the_limit_is_cut_off_while_read(app, world: World) -> None:
    chunk = 16 << 10
    headers = {**JSON, "x-api-key": world.key}
    answer = call(app, "POST", "/api/v1/responses", repeated(10 * MB, chunk), headers)
    assert answer.status == 413 and "CXLOOP_MAX_JSON_BODY_BYTES" in answer.text
    assert world.settings.max_json_body_bytes < answer.consumed <= world.settings.max_json_body_bytes + chunk


def test_a_page_form_over_the_limit_gets_a_413_page(app, world: World) -> None:
    chunk = 8 << 10
    answer = call(app, "POST", "/actions", repeated(MB, chunk), {**FORM, **session_cookie(world)})
    assert (
        answer.status == 413
        and "<h1>Too large</h1>" in answer.text
        and "CXLOOP_MAX_FORM_BODY_BYTES" in answer.text
    )
    assert answer.consumed <= world.settings.max_form_body_bytes + chunk


def test_the_token_login_takes_a_form_sized_body(app, world: World) -> None:
    size = world.settings.max_form_body_bytes + 1
    answer = call(app, "POST", "/api/v1/auth/token", repeated(size), FORM, content_length=size)
    assert answer.status == 413 and answer.consumed == 0


# --- within the limit, with credentials: the route answers as before ---------------------------------


def test_a_body_within_the_limit_reaches_the_route(app, world: World) -> None:
    body = b'{"note": "a note"}'
    answer = call(
        app,
        "POST",
        "/api/v1/cases/999999/notes",
        iter([body]),
        {**JSON, **bearer(world)},
        content_length=len(body),
    )
    assert answer.status == 404 and "case_not_found" in answer.text  # the route ran, and said so
    assert answer.consumed == len(body)


def test_requests_without_a_body_pass_untouched(app, world: World) -> None:
    answer = call(app, "GET", "/api/v1/units", iter([]), bearer(world), content_length=0)
    assert answer.status == 200 and '"b01"' in answer.text


def test_each_kind_of_route_has_its_rule(world: World) -> None:
    settings = world.settings
    assert body_rule(settings, "POST", "/api/v1/responses").login == "api"
    assert body_rule(settings, "POST", "/api/v1/auth/token").login is None
    assert body_rule(settings, "POST", "/api/v1/webhooks/qualtrics").login is None
    assert body_rule(settings, "POST", "/login").login is None
    assert body_rule(settings, "POST", "/logout").login == "page"
    upload = body_rule(settings, "POST", "/admin/upload/")
    assert (upload.limit, upload.login) == (settings.max_upload_bytes, "page")
    assert body_rule(settings, "GET", "/api/v1/units").login is None
    assert body_rule(settings, "POST", "/api/v1/auth/token").limit == settings.max_form_body_bytes
