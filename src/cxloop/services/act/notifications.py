"""Case notifications through an outbox: e-mail (SMTP) and webhooks, with retries.

A change that should tell someone (a case opened for them, a case escalated to them) writes
:class:`~cxloop.store.tables.Notification` rows *in the same transaction* (:func:`enqueue_case_event`):
if the change rolls back, nobody is told about something that did not happen. :func:`deliver_pending` then
sends what is due, outside any transaction, and records each attempt; a failure is retried with a doubling
back-off (1, 2, 4... minutes) until ``CXLOOP_NOTIFY_MAX_ATTEMPTS``, then marked ``failed`` with its error.

E-mail goes to the case owner's address through ``CXLOOP_SMTP_HOST`` (``smtplib``: plain, STARTTLS or TLS);
webhooks are a JSON ``POST`` to ``CXLOOP_CASE_WEBHOOK_URL`` signed like the receiver expects
(``X-Cxloop-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`` under the secret key), sent with the
standard library (no HTTP client dependency at run time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cxloop.services.formatting import NumberFormat, number_format
from cxloop.services.labels import Labels
from cxloop.store.db import session_scope
from cxloop.store.tables import Case, Notification, NotificationStatus, User, utcnow

if TYPE_CHECKING:
    from cxloop.config import Settings

__all__ = [
    "DeliveryResult",
    "check_signature_header",
    "deliver_pending",
    "enqueue_case_event",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Cxloop-Signature"
_SUBJECTS = {
    "case.opened": "New case #{id} for you: {title}",
    "case.escalated": "Escalated to you: case #{id} ({title})",
    "case.reopened": "Case #{id} reopened: {title}",
}


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256 of b"<timestamp>." + body>``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _signature_parts(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(",") if "=" in part)


def check_signature_header(header: str | None, *, now: float, tolerance: float) -> str | None:
    """Why ``header`` cannot sign any body now (missing, no timestamp, stale), or ``None``: the part of
    :func:`verify_signature` that needs no body, checked before the body is read."""
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    try:
        timestamp = int(_signature_parts(header).get("t", ""))
    except ValueError:
        return "the signature header has no valid t=<unix time>"
    if abs(now - timestamp) > tolerance:
        return f"the signed timestamp is more than {tolerance:g} s from now (stale or replayed delivery)"
    return None


def verify_signature(
    secret: str, body: bytes, header: str | None, *, now: float, tolerance: float
) -> str | None:
    """``None`` if ``header`` signs ``body`` under ``secret`` within ``tolerance`` s of ``now``, else why not.

    The comparison is constant-time (:func:`hmac.compare_digest`); the timestamp is inside the MAC, so an old
    delivery replayed later is refused.
    """
    problem = check_signature_header(header, now=now, tolerance=tolerance)
    if problem is not None or header is None:
        return problem
    parts = _signature_parts(header)
    expected = sign(secret, body, int(parts["t"])).split("v1=", 1)[1]
    # as bytes: compare_digest refuses str with non-ASCII characters, which a forged header may hold
    if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode("utf-8", "surrogatepass")):
        return "the signature does not match the body"
    return None


def _payload(
    case: Case, event: str, settings: Settings, owner: User | None, unit_name: str, **extra: Any
) -> dict[str, Any]:
    return {
        "event": event,
        "case": {
            "id": case.id,
            "title": case.title,
            "status": str(case.status),
            "unit_id": case.unit_id,
            "unit_name": unit_name,
            "response_id": case.response_id,
            "customer_id": case.customer_id,
            "owner": owner.email if owner else None,
            "escalation_level": case.escalation_level,
            "first_contact_due": case.first_contact_due.isoformat(),
            "resolution_due": case.resolution_due.isoformat(),
            "url": f"{settings.public_url.rstrip('/')}/cases/{case.id}",
        },
        **extra,
    }


def enqueue_case_event(
    session: Session,
    settings: Settings | None,
    case: Case,
    event: str,
    *,
    now: datetime | None = None,
    **extra: Any,
) -> list[Notification]:
    """Queue the notifications of a case event (in the caller's transaction): an e-mail to the owner when SMTP
    is set up, a webhook when ``CXLOOP_CASE_WEBHOOK_URL`` is. Nothing without settings."""
    if settings is None:
        return []
    now = now or utcnow()
    owner = session.get(User, case.owner_user_id) if case.owner_user_id else None
    payload = _payload(case, event, settings, owner, Labels(session).unit(case.unit_id), **extra)
    queued = []
    if settings.smtp_host and owner is not None and owner.is_active:
        queued.append(
            Notification(
                channel="email",
                target=owner.email,
                event=event,
                case_id=case.id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
    if settings.case_webhook_url:
        queued.append(
            Notification(
                channel="webhook",
                target=settings.case_webhook_url,
                event=event,
                case_id=case.id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.add_all(queued)
    session.flush()
    return queued


def _when(shown: NumberFormat, stamp: Any) -> str:
    """An ISO time of the payload as the locale writes it (as stored when it does not parse)."""
    try:
        # plain spaces: CLDR puts a narrow no-break space before AM/PM, which some mail clients garble
        return shown.datetime(datetime.fromisoformat(str(stamp))).replace("\u202f", " ").replace("\xa0", " ")
    except ValueError:
        return str(stamp)


def _email(settings: Settings, note: Notification) -> None:
    case = note.payload.get("case", {})
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = note.target
    subject = _SUBJECTS.get(note.event, "Case #{id}: {title}")
    message["Subject"] = subject.format(id=case.get("id"), title=case.get("title", ""))[:250]
    shown = number_format(settings.locale, settings.currency)
    lines = [
        f"Case #{case.get('id')}: {case.get('title', '')}",
        f"Unit: {case.get('unit_name') or case.get('unit_id')}    Customer: {case.get('customer_id') or '-'}",
        f"First contact due: {_when(shown, case.get('first_contact_due'))} UTC",
        f"Resolution due: {_when(shown, case.get('resolution_due'))} UTC",
    ]
    if note.event == "case.escalated":
        lines.append(f"Escalated because the {' and '.join(note.payload.get('reason', []))} SLA ran out.")
    lines += ["", f"Open it: {case.get('url')}"]
    message.set_content("\n".join(lines))
    host, port = settings.smtp_host or "localhost", settings.smtp_port
    if settings.smtp_security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=10, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=10)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_username, password)
        client.send_message(message)


def _webhook(settings: Settings, note: Notification) -> None:
    body = json.dumps(note.payload, sort_keys=True).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cxloop-notify",
        SIGNATURE_HEADER: sign(settings.signing_secret().get_secret_value(), body, int(time.time())),
        "X-Cxloop-Event": note.event,
        "X-Cxloop-Delivery": str(note.id),
    }
    if not note.target.startswith(("http://", "https://")):
        raise ValueError(f"webhook target must be an http(s) URL, not {note.target!r}")
    request = urllib.request.Request(note.target, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - scheme checked above
        if not 200 <= response.status < 300:
            raise RuntimeError(f"webhook answered {response.status}")


_SENDERS = {"email": _email, "webhook": _webhook}


@dataclass(frozen=True)
class DeliveryResult:
    sent: int
    retried: int
    failed: int


def deliver_pending(
    engine: Engine, settings: Settings, *, now: datetime | None = None, limit: int = 200
) -> DeliveryResult:
    """Send every notification that is due; each attempt is committed on its own."""
    now = now or utcnow()
    with session_scope(engine) as session:
        due = list(
            session.scalars(
                select(Notification.id)
                .where(Notification.status == NotificationStatus.pending, Notification.next_attempt_at <= now)
                .order_by(Notification.id)
                .limit(limit)
            )
        )
    sent = retried = failed = 0
    for note_id in due:
        with session_scope(engine) as session:
            note = session.get(Notification, note_id)
            if note is None or note.status != NotificationStatus.pending:
                continue
            note.attempts += 1
            try:
                _SENDERS[note.channel](settings, note)
            except (
                OSError,
                smtplib.SMTPException,
                urllib.error.URLError,
                RuntimeError,
                ValueError,
                KeyError,
            ) as exc:
                note.error = f"{type(exc).__name__}: {exc}"[:2000]
                if note.attempts >= settings.notify_max_attempts:
                    note.status = NotificationStatus.failed
                    failed += 1
                else:
                    note.next_attempt_at = now + timedelta(minutes=2 ** (note.attempts - 1))
                    retried += 1
                continue
            note.status = NotificationStatus.sent
            note.sent_at = now
            note.error = None
            sent += 1
    return DeliveryResult(sent, retried, failed)
