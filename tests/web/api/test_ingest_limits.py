"""Posted responses have ceilings: a comment (or id, or other text) longer than its column's is a rejected row
with the column and the ceiling in its reason (422 when every row is), and more responses than
``CXLOOP_MAX_ROWS_PER_REQUEST`` in one request are refused with 413 before any is read. Before, a 10 MB
comment was stored, and every later read of its unit's comments ran past 60 s redacting it (a 10 MB body is
now also over the JSON body limit; a comment under that limit but over its ceiling is the 422 here)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxloop.services.act.notifications import SIGNATURE_HEADER, sign
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.cases_world import World

_SECRET = "s3cret-" + "x" * 30


@pytest.fixture
def client(web_world: World) -> Iterator[TestClient]:
    settings = web_world.settings.model_copy(update={"webhook_secrets": {"typeform": _SECRET}})
    with TestClient(create_app(settings)) as client:
        yield client


def _row(rid: str, **extra) -> dict:
    return {"response_id": rid, "submitted_at": "2026-11-20T10:00:00Z", "unit_id": "b01", "nps": 8, **extra}


def _stored(world: World) -> list[str]:
    con = connect(world.settings)  # the same configuration as the app's, so both may be open
    try:
        if "responses" not in con.list_tables():
            return []
        return sorted(con.table("responses").response_id.to_pyarrow().to_pylist())
    finally:
        con.disconnect()


def test_an_over_long_comment_answers_422_naming_the_field_and_its_ceiling(client, web_world):
    key = {"X-API-Key": web_world.api_key}
    ceiling = web_world.settings.max_comment_chars
    for size in (ceiling + 1, 1_000_000):
        response = client.post(
            "/api/v1/responses", json=[_row(f"big-{size}", comment="a" * size)], headers=key
        )
        assert response.status_code == 422, response.text[:300]
        error = response.json()["error"]
        assert error["code"] == "rejected_rows"
        assert f"comment: too long: {size:,} characters, at most {ceiling:,}" in error["message"]
        assert error["problems"][0]["column"] == "comment"
    # 10 MB: over the JSON body limit too, refused before it is read (cxloop.web.limits).
    huge = client.post("/api/v1/responses", json=[_row("huge", comment="a" * 10_000_000)], headers=key)
    assert huge.status_code == 413
    assert _stored(web_world) == []
    at_the_ceiling = client.post("/api/v1/responses", json=_row("fits", comment="a" * ceiling), headers=key)
    assert at_the_ceiling.status_code == 201
    assert _stored(web_world) == ["fits"]


def test_an_over_long_id_in_a_batch_rejects_only_its_row(client, web_world):
    key = {"X-API-Key": web_world.api_key}
    batch = [_row("ok-1"), _row("ok-2", customer_id="c" * 129), _row("ok-3", touchpoint="t" * 65)]
    response = client.post("/api/v1/responses", json=batch, headers=key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [(p["row"], p["column"], p["reason"]) for p in body["problems"]] == [
        (2, "customer_id", "too long: 129 characters, at most 128"),
        (3, "touchpoint", "too long: 65 characters, at most 64"),
    ]
    assert _stored(web_world) == ["ok-1"]


def test_more_rows_than_the_ceiling_answer_413_and_store_nothing(client, web_world):
    key = {"X-API-Key": web_world.api_key}
    ceiling = web_world.settings.max_rows_per_request
    rows = [_row(f"r{i}") for i in range(ceiling + 1)]
    response = client.post("/api/v1/responses", json={"responses": rows}, headers=key)
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert f"{ceiling + 1:,}, at most {ceiling:,} (CXLOOP_MAX_ROWS_PER_REQUEST)" in error["message"]
    raw = json.dumps(rows).encode()
    signed = {SIGNATURE_HEADER: sign(_SECRET, raw, int(time.time())), "Content-Type": "application/json"}
    assert client.post("/api/v1/webhooks/typeform", content=raw, headers=signed).status_code == 413
    assert _stored(web_world) == []


def test_the_row_ceiling_is_a_setting(web_world):
    settings = web_world.settings.model_copy(update={"max_rows_per_request": 2})
    with TestClient(create_app(settings)) as client:
        key = {"X-API-Key": web_world.api_key}
        assert (
            client.post("/api/v1/responses", json=[_row("a"), _row("b"), _row("c")], headers=key).status_code
            == 413
        )
        assert client.post("/api/v1/responses", json=[_row("a"), _row("b")], headers=key).status_code == 201
