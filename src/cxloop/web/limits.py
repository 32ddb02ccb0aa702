"""Request bodies: a size limit per kind of route, and credentials checked before the first byte is read.

FastAPI reads and parses a route's JSON or form body before it solves the route's dependencies, so a
credentials dependency alone lets anyone make the server read, parse and hold any body before the 401.
:class:`BodyGuard`, a plain ASGI middleware, runs first:

1. the request's *body rule* (:func:`body_rule`) gives the limit for its kind of route (settings
   ``max_json_body_bytes``, ``max_form_body_bytes``, ``max_upload_bytes``) and which login it needs;
2. a ``Content-Length`` over the limit answers 413 at once;
3. a body-bearing request to a route that needs a login is checked cheaply: under ``/api/`` the API
   credentials (:func:`~cxloop.web.deps.check_api_credentials`: present, a JWT's signature and expiry, an
   API key live), elsewhere a session cookie with a valid signature
   (:func:`~cxloop.web.deps.session_claims`). Without them: the same 401 as the route's dependency, or the
   redirect to the login page; the body is never read;
4. the body is counted as the app reads it (chunked bodies have no length to check first): one byte over
   the limit raises :class:`~cxloop.web.errors.BodyTooLarge`, answered 413.

The route's own dependencies still make the full check (user active, role, CSRF). Open routes: the token
and page logins, and the signed webhook (its route checks the source and the signature header's timestamp
before reading, the signature itself after). The upload page streams its body itself
(:mod:`cxloop.web.upload_form`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop.config import Settings
from cxloop.web.deps import check_api_credentials, session_claims
from cxloop.web.errors import ApiError, BodyTooLarge, api_error_response, too_large_response
from cxloop.web.rendering import LOGIN_PATH, to_login

__all__ = ["UPLOAD_PATH", "BodyGuard", "BodyRule", "body_rule"]

UPLOAD_PATH = "/admin/upload"
_API_LOGIN = "/api/v1/auth/token"
_WEBHOOKS = "/api/v1/webhooks/"
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class BodyRule:
    """How large a request's body may be and which login it needs before it is read."""

    what: str
    """The kind of route, for the 413's message ("JSON API posts")."""
    limit: int
    setting: str
    """The setting that raises the limit."""
    login: Literal["api", "page"] | None

    def too_large(self) -> BodyTooLarge:
        return BodyTooLarge(self.what, self.limit, self.setting)


def body_rule(settings: Settings, method: str, path: str) -> BodyRule:
    """The rule for a request: uploads on the admin page, JSON under ``/api/`` (the token login takes a
    form), forms everywhere else. ``GET``, ``HEAD`` and ``OPTIONS`` need no login here (their routes read
    no body; their dependencies check credentials)."""
    path = path.rstrip("/") or "/"
    open_route = method in _NO_BODY or path in (_API_LOGIN, LOGIN_PATH) or path.startswith(_WEBHOOKS)
    if path == UPLOAD_PATH and method == "POST":
        return BodyRule("uploads", settings.max_upload_bytes, "CXLOOP_MAX_UPLOAD_BYTES", "page")
    if path.startswith("/api/") and path != _API_LOGIN:
        json_limit = settings.max_json_body_bytes
        return BodyRule(
            "JSON API requests", json_limit, "CXLOOP_MAX_JSON_BODY_BYTES", None if open_route else "api"
        )
    form_limit = settings.max_form_body_bytes
    return BodyRule("form posts", form_limit, "CXLOOP_MAX_FORM_BODY_BYTES", None if open_route else "page")


def _declared_length(request: Request) -> int | None:
    """The body's declared length; ``None`` when it is chunked (or the header is not a number)."""
    value = request.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class BodyGuard:
    """Size limits and early credential checks for request bodies (see the module notes)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, engine: Engine) -> None:
        self.app = app
        self.settings = settings
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # headers and cookies only: given no receive, it cannot read the body
        declared = _declared_length(request)
        if not declared and "transfer-encoding" not in request.headers:
            await self.app(scope, receive, send)  # no body at all
            return
        rule = body_rule(self.settings, scope["method"], scope["path"])
        if declared is not None and declared > rule.limit:
            await too_large_response(request, rule.too_large())(scope, receive, send)
            return
        refusal = await self._refusal(request, rule)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._counted(scope, receive, send, rule, request)

    async def _refusal(self, request: Request, rule: BodyRule) -> Response | None:
        """The answer to a request without the credentials its route needs, or ``None``."""
        if rule.login == "api":
            try:
                await check_api_credentials(request, self.settings, self.engine)
            except ApiError as exc:
                return api_error_response(exc)
        elif rule.login == "page" and session_claims(request, self.settings) is None:
            return to_login()
        return None

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, rule: BodyRule, request: Request
    ) -> None:
        received = 0
        started = False

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.limit:
                    raise rule.too_large()
            return message

        async def send_watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_counted, send_watched)
        except BodyTooLarge as exc:  # raised where no exception handler answered it
            if started:
                raise
            await too_large_response(request, exc)(scope, receive, send)
