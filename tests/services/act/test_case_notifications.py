"""Notifications are really delivered: e-mail to a local SMTP server (aiosmtpd), webhooks to a local HTTP
receiver on loopback, with signed bodies, retries and a final failed state."""

from __future__ import annotations

import email
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from cxloop.services.act import cases as svc
from cxloop.services.act import notifications as notify
from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.realtime import ingest_responses
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.store.tables import Notification, NotificationStatus
from cxloop.warehouse.connection import connect
from support.cases_world import World

RULES = (alerts.run_on_arrival,)  # the after-store hook the web app gives its importer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 0

    def do_POST(self):  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "fail_first": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/cases", handler
    server.shutdown()
    server.server_close()


def _setup(world: World, smtp_port: int, url: str):
    settings = world.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_from": "cx@bank.example",
            "case_webhook_url": url,
            "notify_max_attempts": 3,
        }
    )
    with session_scope(world.engine) as session:
        alerts.create_rule(
            session,
            world.viewer("admin@bank.example"),
            name="detractors",
            kind="nps_at_most",
            first_contact_hours=2,
            resolution_hours=24,
            actor=audit.Actor.system("test"),
            now=T0,
        )
    return settings


def _open_case(world: World, settings) -> int:
    con = connect(settings)
    try:
        row = {
            "response_id": "n1",
            "submitted_at": "2026-11-02T08:00:00Z",
            "unit_id": "b01",
            "nps": 1,
            "customer_id": "c5",
            "comment": "Nobody called back",
        }
        result = ingest_responses(
            [row], settings=settings, engine=world.engine, con=con, now=T0, after_store=RULES
        )
    finally:
        con.disconnect()
    (case_id,) = result.cases_opened
    return case_id


def test_open_and_escalation_reach_smtp_and_the_webhook(web_world, smtp, receiver):
    port, inbox = smtp
    url, handler = receiver
    settings = _setup(web_world, port, url)
    case_id = _open_case(web_world, settings)
    delivered = notify.deliver_pending(web_world.engine, settings, now=T0)
    assert (delivered.sent, delivered.retried, delivered.failed) == (2, 0, 0)
    (mail,) = inbox.messages
    assert mail["To"] == "branch1@bank.example"
    assert mail["From"] == "cx@bank.example"
    assert mail["Subject"].startswith(f"New case #{case_id} for you")
    assert f"/cases/{case_id}" in mail.get_payload()
    # people read names and dates (issue 17): the unit by its name, the due time as the locale writes it
    text = mail.get_payload(decode=True).decode()
    assert "Unit: Branch 01 " in text and "Unit: b01" not in text
    due = r"First contact due: [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} (AM|PM) UTC"
    assert re.search(due, text)
    ((headers, body),) = handler.received
    payload = json.loads(body)
    assert payload["event"] == "case.opened" and payload["case"]["id"] == case_id
    assert payload["case"]["owner"] == "branch1@bank.example"
    secret = settings.secret_key.get_secret_value()
    assert (
        notify.verify_signature(secret, body, headers[notify.SIGNATURE_HEADER], now=time.time(), tolerance=60)
        is None
    )

    # Nobody contacts the customer: after 3 hours the case escalates to the region's owner, who is told.
    with session_scope(web_world.engine) as session:
        assert svc.escalate(session, now=T0 + timedelta(hours=3), settings=settings).escalated == (case_id,)
    notify.deliver_pending(web_world.engine, settings, now=T0 + timedelta(hours=3))
    assert [m["To"] for m in inbox.messages] == ["branch1@bank.example", "region@bank.example"]
    assert inbox.messages[1]["Subject"].startswith(f"Escalated to you: case #{case_id}")
    assert "first_contact SLA ran out" in inbox.messages[1].get_payload()
    assert [json.loads(b)["event"] for _, b in handler.received] == ["case.opened", "case.escalated"]
    # Delivered once: another round sends nothing.
    assert notify.deliver_pending(web_world.engine, settings, now=T0 + timedelta(hours=4)).sent == 0


def test_failed_deliveries_are_retried_with_backoff_then_marked_failed(web_world, smtp, receiver):
    port, inbox = smtp
    url, handler = receiver
    handler.fail_first = 1
    settings = _setup(web_world, port, url)
    _open_case(web_world, settings)
    first = notify.deliver_pending(web_world.engine, settings, now=T0)
    assert (first.sent, first.retried) == (1, 1)  # e-mail sent, webhook answered 503
    assert (
        notify.deliver_pending(web_world.engine, settings, now=T0 + timedelta(seconds=30)).sent == 0
    )  # not due
    second = notify.deliver_pending(web_world.engine, settings, now=T0 + timedelta(minutes=1))
    assert second.sent == 1 and len(handler.received) == 1
    with session_scope(web_world.engine) as session:
        hook = session.query(Notification).filter_by(channel="webhook").one()
        assert (hook.status, hook.attempts) == (NotificationStatus.sent, 2)

    # A receiver that is down: three attempts, then failed with the error kept.
    dead = settings.model_copy(
        update={"case_webhook_url": f"http://127.0.0.1:{_free_port()}/gone", "smtp_host": None}
    )
    with session_scope(web_world.engine) as session:
        case = session.query(svc.Case).one()
        notify.enqueue_case_event(session, dead, case, "case.reopened", now=T0)
    at = T0
    for _ in range(3):
        notify.deliver_pending(web_world.engine, dead, now=at)
        at += timedelta(hours=1)
    with session_scope(web_world.engine) as session:
        gone = session.query(Notification).filter(Notification.target.like("%/gone")).one()
        assert gone.status == NotificationStatus.failed and gone.attempts == 3
        assert "Connection refused" in gone.error or "URLError" in gone.error


@pytest.mark.parametrize("forged", ["é" * 64, "ü", "v1=\x85"])
def test_a_forged_signature_with_non_ascii_characters_does_not_match(forged):
    # hmac.compare_digest raises TypeError on a str with non-ASCII characters: the webhook answered 500.
    now = time.time()
    body = b'{"response_id": "r1"}'
    header = f"t={int(now)},v1={forged}"
    assert notify.verify_signature("s3cret", body, header, now=now, tolerance=60) == (
        "the signature does not match the body"
    )
    good = notify.sign("s3cret", body, int(now))
    assert notify.verify_signature("s3cret", body, good, now=now, tolerance=60) is None
