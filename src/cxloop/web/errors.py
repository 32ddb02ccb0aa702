"""One error mapping for the whole app, JSON and HTML alike, registered once by ``create_app``.

Routes and their dependencies raise; nothing answers an error by hand. A service's exception is answered
by its place in :data:`SERVICE_ERRORS` (looked up along the exception's classes, the most specific entry
first): ``LookupError`` 404, ``PermissionError`` 403, ``ValueError`` 422, a unit outside the viewer's scope
404 like an unknown one. Under ``/api/`` the answer is the standard JSON body below; anywhere else (the
HTML pages) a one-sentence error page. Pages have three answers of their own: :class:`LoginRequired` (no
valid session: see other, the login page), :class:`CsrfRefused` (a form without the session's token: 403)
and :class:`PageError` (a page's own status and sentence).

JSON errors have one body everywhere: ``{"error": {"code": ..., "message": ..., [fields | suggestions]}}``.

Status codes:

* 401 ``not_authenticated`` / ``invalid_credentials``: no or bad credentials;
* 404 ``unit_not_found``: the unit does not exist **or lies outside the viewer's subtree** -- the two are
  answered alike (same status, same message, suggestions from the viewer's own units), so a branch
  manager cannot learn which other units exist;
* 404 ``no_data``: nothing matches; 404 ``not_found`` for an unknown path; 405 ``method_not_allowed``;
* 413 ``too_large``: a request body over its route's limit (:class:`BodyTooLarge`, raised by
  :class:`~cxloop.web.limits.BodyGuard` from the declared length or while the body is read);
* 422 ``validation_error``: a parameter is missing or malformed (``fields`` says which and why: a
  control character in any path or query parameter, see :mod:`cxloop.web.inputs`; a body that is not
  UTF-8), or ``bad_request`` when values are well-formed but cannot be combined;
* 429 ``too_many_attempts``: login throttled (``Retry-After`` header);
* 500 ``internal_error``: a bug, never the user's input (no details leak);
* 503 ``storage_unavailable``: a store cannot be used now (disk full, a read-only or corrupt data directory,
  an unreachable database: :mod:`cxloop.services.storage`); ``reason`` names which, the message says what an
  operator does about it, ``Retry-After`` says when to try again. The exception is logged with its traceback.
  503 ``cases_pending``: posted responses were stored but their alert rules failed (``reason``: the storage
  failure's code, or ``after_store_failed``); posting them again finishes it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pydantic
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxloop.services.access.scope import ScopeError, UnknownUnitError
from cxloop.services.act.cases import CaseNotFoundError
from cxloop.services.act.rules.engine import RuleNotFoundError
from cxloop.services.act.targets import TargetLockedError
from cxloop.services.listen.arrival import ArrivalIncompleteError
from cxloop.services.prove.pilots import PilotNotFoundError
from cxloop.services.storage import STORAGE_ERRORS, StorageProblem, storage_problem
from cxloop.services.understand.drivers import DriverAnalysisError, NoDriverDataError
from cxloop.services.understand.metrics import NoDataError
from cxloop.services.understand.themes import NoCodebookError
from cxloop.services.value.money import NoTransactionsError
from cxloop.web.rendering import error_page, not_found_page, to_login

__all__ = [
    "SERVICE_ERRORS",
    "ApiError",
    "BodyTooLarge",
    "CsrfRefused",
    "LoginRequired",
    "PageError",
    "answer_value_errors",
    "api_error_response",
    "error_body",
    "install_error_handlers",
    "too_large_response",
]

_log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_attempts",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and the standard body."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


class BodyTooLarge(HTTPException):
    """A request body larger than its route's limit: 413. A FastAPI ``HTTPException``, so that FastAPI's
    body reader passes it on as it is (any other error while reading becomes a 400 "error parsing the
    body")."""

    def __init__(self, what: str, limit: int, setting: str) -> None:
        size = f"{limit / (1 << 20):,.0f} MB" if limit >= 1 << 20 else f"{limit / 1024:,.0f} KB"
        super().__init__(413, f"the request body is larger than {size}, the limit for {what} ({setting})")
        self.message = str(self.detail)


class LoginRequired(Exception):
    """A page was asked for without a valid session: answered by a redirect to the login page."""


class CsrfRefused(Exception):
    """A form was posted without the CSRF token of the poster's session: answered 403 in plain text."""


class PageError(Exception):
    """An HTML page's own error answer: ``status`` and one sentence under a title (no title: the sentence
    alone, as plain text)."""

    def __init__(self, status: int, title: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message

    @classmethod
    def not_found(cls, message: str) -> PageError:
        """The 404 page (unknown and outside the viewer's scope read the same)."""
        return cls(404, "Not found", message)


def answer_value_errors(status: int, title: str) -> Callable[[], AsyncIterator[None]]:
    """A router dependency (``scope="function"``) for pages that answer bad input with their own status and
    title instead of the mapping's 422: a ``ValueError`` from the route becomes that :class:`PageError`."""

    async def value_errors() -> AsyncIterator[None]:
        try:
            yield
        except ValueError as exc:
            raise PageError(status, title, str(exc)) from None

    return value_errors


#: How a service's exception is answered: ``(status, JSON error code)``. The most specific class of the
#: exception listed here wins (``NoDataError`` before ``LookupError``).
SERVICE_ERRORS: dict[type[Exception], tuple[int, str]] = {
    LookupError: (404, "not_found"),
    PermissionError: (403, "forbidden"),
    ValueError: (422, "bad_request"),
    NoDataError: (404, "no_data"),
    NoDriverDataError: (404, "no_data"),
    NoTransactionsError: (404, "no_data"),
    NoCodebookError: (404, "no_data"),
    DriverAnalysisError: (422, "insufficient_data"),
    PilotNotFoundError: (404, "pilot_not_found"),
    CaseNotFoundError: (404, "case_not_found"),
    RuleNotFoundError: (404, "rule_not_found"),
    TargetLockedError: (403, "target_locked"),
}
#: Not the user's input but a bug, although their classes derive from the mapped ones: 500 as any bug.
_BUGS: tuple[type[Exception], ...] = (KeyError, IndexError, pydantic.ValidationError)
_PAGE_TITLES = {403: "Not allowed", 404: "Not found"}
#: Seconds a client is told to wait before trying again after a storage failure.
STORAGE_RETRY_AFTER = 30


def service_error(exc: Exception) -> tuple[int, str]:
    """``(status, code)`` of a service exception, from its most specific class in :data:`SERVICE_ERRORS`."""
    for cls in type(exc).__mro__:
        if cls in SERVICE_ERRORS:
            return SERVICE_ERRORS[cls]
    raise TypeError(f"{type(exc).__name__} is not a mapped service error")


def is_page(request: Request) -> bool:
    """Whether the request is for an HTML page (everything outside ``/api/``) rather than JSON."""
    return not request.url.path.startswith("/api/")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The standard error body."""
    return {"error": {"code": code, "message": message, **extra}}


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("query", "path", "body", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _unit_not_found(unit_id: str, suggestions: list[str]) -> JSONResponse:
    hint = f"; units you can see with similar ids: {', '.join(suggestions)}" if suggestions else ""
    return JSONResponse(
        error_body(
            "unit_not_found",
            f"no unit {unit_id!r} among the units you can see{hint}",
            suggestions=suggestions,
        ),
        status_code=404,
    )


def _unit_not_found_page(unit_id: str) -> Response:
    return not_found_page(f"No unit {unit_id} among the units you can see.")


#: Routing's own "no route" on a page address: a title and a sentence (JSON under /api/ and the probes).
_HTTP_PAGES = {404: ("Page not found", "There is no page at this address.")}


def api_error_response(exc: ApiError) -> JSONResponse:
    """The answer to an :class:`ApiError`: its status, the standard body, its headers."""
    return JSONResponse(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)


def too_large_response(request: Request, exc: BodyTooLarge) -> Response:
    """The answer to a body over its limit: the standard JSON body under ``/api/``, else a page."""
    if is_page(request):
        return error_page(413, "Too large", exc.message)
    return JSONResponse(error_body("too_large", exc.message), status_code=413)


def _storage_unavailable(request: Request, exc: BaseException, problem: StorageProblem) -> Response:
    _log.error(
        "storage unavailable (%s): %s %s", problem.code, request.method, request.url.path, exc_info=exc
    )
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER)}
    if is_page(request):
        page = error_page(503, "Service unavailable", problem.message)
        page.headers.update(headers)
        return page
    return JSONResponse(
        error_body("storage_unavailable", problem.message, reason=problem.code), 503, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error its answer: the standard JSON body under ``/api/``, an
    HTML page elsewhere."""

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, _exc: LoginRequired) -> Response:
        return to_login()

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        if is_page(request):
            return error_page(
                403,
                "Form expired",
                "CSRF token missing or wrong: this form was not sent from your current session. Go back, "
                "reload the page and send it again.",
            )
        return PlainTextResponse("CSRF token missing or wrong", status_code=403)

    @app.exception_handler(PageError)
    async def _page(_request: Request, exc: PageError) -> Response:
        if exc.title is None:
            return PlainTextResponse(exc.message, status_code=exc.status)
        return error_page(exc.status, exc.title, exc.message)

    async def _service(request: Request, exc: Exception) -> Response:
        if isinstance(exc, _BUGS):
            raise exc  # on to the 500 handler, as if unmapped
        status, code = service_error(exc)
        if is_page(request):
            return error_page(status, _PAGE_TITLES.get(status, "Bad request"), str(exc))
        return JSONResponse(error_body(code, str(exc)), status_code=status)

    for cls in SERVICE_ERRORS:
        app.add_exception_handler(cls, _service)

    async def _storage(request: Request, exc: Exception) -> Response:
        problem = storage_problem(exc)
        if problem is None:
            raise exc  # an OSError or database error that is not the storage failing: a bug, 500
        return _storage_unavailable(request, exc, problem)

    for cls in STORAGE_ERRORS:
        app.add_exception_handler(cls, _storage)

    @app.exception_handler(ArrivalIncompleteError)
    async def _arrival(_request: Request, exc: ArrivalIncompleteError) -> JSONResponse:
        return JSONResponse(
            error_body("cases_pending", str(exc), reason=exc.reason),
            503,
            headers={"Retry-After": str(STORAGE_RETRY_AFTER)},
        )

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return api_error_response(exc)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return too_large_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field(e.get("loc", ())), "reason": str(e.get("msg", ""))} for e in exc.errors()]
        shown = "; ".join(f"{f['field']}: {f['reason']}" for f in fields[:5])
        return JSONResponse(
            error_body("validation_error", f"invalid request: {shown}", fields=fields), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):  # FastAPI's 400 "error parsing the body" for a JSON body
            reason = f"not UTF-8 (byte 0x{cause.object[cause.start]:02x} at position {cause.start})"
            fields = [{"field": "body", "reason": reason}]
            return JSONResponse(
                error_body("validation_error", f"invalid request: the body is {reason}", fields=fields), 422
            )
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if is_page(request) and exc.status_code in _HTTP_PAGES:
            title, sentence = _HTTP_PAGES[exc.status_code]
            page = error_page(exc.status_code, title, sentence)
            page.headers.update(getattr(exc, "headers", None) or {})
            return page
        return JSONResponse(error_body(code, message), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(UnknownUnitError)
    async def _unknown_unit(request: Request, exc: UnknownUnitError) -> Response:
        if is_page(request):
            return _unit_not_found_page(exc.unit_id)
        return _unit_not_found(exc.unit_id, list(exc.suggestions))

    @app.exception_handler(ScopeError)
    async def _scope(request: Request, exc: ScopeError) -> Response:
        # Routes check units first (deps.visible_unit), which turns this into UnknownUnitError with
        # suggestions; this is the fallback for a service raising it directly.
        if is_page(request):
            return _unit_not_found_page(exc.unit_id)
        return _unit_not_found(exc.unit_id, [])

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        problem = storage_problem(exc)  # raised from a storage failure (e.g. an import stopped by one)
        if problem is not None:
            return _storage_unavailable(request, exc, problem)
        _log.exception("unhandled error", exc_info=exc)
        if is_page(request):
            return error_page(
                500, "Something went wrong", "This page could not be shown because of an error."
            )
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
