"""Posts cannot change the global catalogue unless an admin of the whole organisation makes them (issue 23,
defects 2 and 9).

* a key scoped to one branch (even an admin's), a root analyst's key and a signed webhook: rows naming an
  unknown touchpoint, segment or driver item are rejected with a reason saying who adds them; the other rows
  are stored; the catalogue and the warehouse's item columns are unchanged;
* an admin at the top adds what it posts, but a malformed touchpoint or segment (markup, emoji only, a JSON
  list or boolean, 5,000 characters) is a rejected row and a malformed item name a 422, nothing stored;
* at most ``CXLOOP_MAX_NEW_ITEMS_PER_REQUEST`` new items per post and ``CXLOOP_MAX_ITEMS`` in the
  catalogue: beyond either, a 422 that names the setting, nothing stored, no item column added.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxloop.services.act.notifications import SIGNATURE_HEADER, sign
from cxloop.store.api_keys import create_api_key
from cxloop.store.db import session_scope
from cxloop.store.tables import Question, Role, Segment, Touchpoint
from cxloop.warehouse.connection import connect
from cxloop.warehouse.derived.response_items import items_of, wide_columns
from cxloop.web.app import create_app
from support.cases_world import World

SECRET = "s3cret-" + "y" * 30


@pytest.fixture
def client(web_world: World) -> Iterator[TestClient]:
    settings = web_world.settings.model_copy(
        update={"webhook_secrets": {"typeform": SECRET}, "max_new_items_per_request": 3, "max_items": 6}
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _key(world: World, unit: str, role: Role) -> dict[str, str]:
    with session_scope(world.engine) as session:
        return {"X-API-Key": create_api_key(session, unit, name=f"{role.value} at {unit}", role=role).key}


def _row(rid: str, unit: str = "b01", **extra) -> dict:
    return {"response_id": rid, "submitted_at": "2026-11-20T10:00:00Z", "unit_id": unit, "nps": 8, **extra}


def _catalogue(world: World) -> tuple[list[str], list[str], list[str]]:
    with session_scope(world.engine) as session:
        return (
            sorted(t.touchpoint_id for t in session.query(Touchpoint)),
            sorted(s.segment_id for s in session.query(Segment)),
            sorted(q.question_id for q in session.query(Question).filter(Question.is_driver)),
        )


def _item_columns(world: World) -> list[str]:
    con = connect(world.settings)
    try:
        return sorted(items_of(wide_columns(con) or []))
    finally:
        con.disconnect()


def _stored(world: World) -> list[str]:
    con = connect(world.settings)
    try:
        return sorted(con.table("responses").to_pyarrow().column("response_id").to_pylist())
    finally:
        con.disconnect()


def test_scoped_keys_and_webhooks_name_only_what_is_in_the_catalogue(client, web_world):
    admin = {"X-API-Key": web_world.api_key}
    first = client.post(
        "/api/v1/responses", json=[_row("a1", touchpoint="branch_visit", q_staff=7)], headers=admin
    )
    assert first.status_code == 201, first.text
    before = _catalogue(web_world)
    assert before == (["branch_visit"], [], ["staff"])

    for name, headers in (
        ("branch admin", _key(web_world, "b01", Role.admin)),
        ("root analyst", _key(web_world, "bank", Role.analyst)),
    ):
        rows = [
            _row(f"{name}-1", touchpoint="branch_visit", q_staff=6),  # known: stored
            _row(f"{name}-2", touchpoint="hacked"),
            _row(f"{name}-3", segment="vip"),
            _row(f"{name}-4", q_staff=5, q_injected=9),
            _row(f"{name}-5", q_injected=None),  # names the item without answering it: stored
        ]
        answer = client.post("/api/v1/responses", json=rows, headers=headers)
        assert answer.status_code == 201, (name, answer.text)
        body = answer.json()
        assert (body["accepted"], body["rejected"]) == (2, 3), name
        problems = {p["row"]: p for p in body["problems"]}
        assert problems[2]["column"] == "touchpoint" and problems[3]["column"] == "segment"
        assert problems[4]["column"] == "q_injected"
        for problem in problems.values():
            assert problem["reason"].startswith("unknown "), problem
            assert "only an admin of the whole organisation" in problem["reason"]
        assert "cxloop catalogue add-touchpoint" in problems[2]["reason"]
        assert "cxloop catalogue add-item" in problems[4]["reason"]

    raw = json.dumps([_row("w1", touchpoint="from_a_form"), _row("w2", touchpoint="branch_visit")]).encode()
    signed = {SIGNATURE_HEADER: sign(SECRET, raw, int(time.time())), "Content-Type": "application/json"}
    hooked = client.post("/api/v1/webhooks/typeform", content=raw, headers=signed)
    assert hooked.status_code == 201, hooked.text
    assert (hooked.json()["accepted"], hooked.json()["rejected"]) == (1, 1)
    assert "webhook" in hooked.json()["problems"][0]["reason"]

    assert _catalogue(web_world) == before
    assert _item_columns(web_world) == ["staff"]
    assert "branch admin-2" not in _stored(web_world) and "branch admin-1" in _stored(web_world)


def test_malformed_names_are_refused_even_from_an_admin(client, web_world):
    admin = {"X-API-Key": web_world.api_key}
    rows = [
        _row("m1", touchpoint="<b>x</b>"),
        _row("m2", segment="\U0001f4a5"),
        _row("m3", segment=["x"]),
        _row("m4", segment=False),
        _row("m5", touchpoint="t" * 5000),
        _row("m6", touchpoint="Filiale Zürich", segment="premium"),  # letters of any script: fine
    ]
    answer = client.post("/api/v1/responses", json=rows, headers=admin)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 5)
    reasons = {p["row"]: p["reason"] for p in body["problems"]}
    assert "not a usable touchpoint id" in reasons[1] and "not a usable segment id" in reasons[2]
    assert reasons[5].startswith("too long") and len(reasons[5]) < 300  # the name is not echoed
    assert "must be a text id" in reasons[4]
    assert 3 in reasons  # a list is no value at all
    assert _catalogue(web_world) == (["Filiale Zürich"], ["premium"], [])

    for key in ("q_<b>bold</b>", "q_" + "x" * 5000, "q_Staff"):
        refused = client.post("/api/v1/responses", json=[_row("m7", **{key: 5})], headers=admin)
        assert refused.status_code == 422, (key[:20], refused.text)
        message = refused.json()["error"]["message"]
        assert "not a usable driver item" in message and len(message) < 400
    assert "m7" not in _stored(web_world)
    assert _catalogue(web_world)[2] == [] and _item_columns(web_world) == []


def test_new_items_per_post_and_in_the_catalogue_have_a_ceiling(client, web_world):
    admin = {"X-API-Key": web_world.api_key}
    many = client.post("/api/v1/responses", json=[_row("c1", q_a=1, q_b=2, q_c=3, q_d=4)], headers=admin)
    assert many.status_code == 422, many.text
    assert "CXLOOP_MAX_NEW_ITEMS_PER_REQUEST" in many.json()["error"]["message"]
    assert _item_columns(web_world) == [] and _stored(web_world) == []

    three = client.post("/api/v1/responses", json=[_row("c2", q_a=1, q_b=2, q_c=3)], headers=admin)
    assert three.status_code == 201, three.text
    three_more = client.post("/api/v1/responses", json=[_row("c3", q_d=1, q_e=2, q_f=3)], headers=admin)
    assert three_more.status_code == 201, three_more.text
    full = client.post("/api/v1/responses", json=[_row("c4", q_a=4, q_g=1)], headers=admin)
    assert full.status_code == 422, full.text
    message = full.json()["error"]["message"]
    assert "CXLOOP_MAX_ITEMS" in message and "ceiling of 6" in message and "nothing was imported" in message
    assert _catalogue(web_world)[2] == ["a", "b", "c", "d", "e", "f"]
    assert _item_columns(web_world) == ["a", "b", "c", "d", "e", "f"] and "c4" not in _stored(web_world)
    known = client.post("/api/v1/responses", json=[_row("c5", q_a=4, q_f=1)], headers=admin)
    assert known.status_code == 201, known.text
