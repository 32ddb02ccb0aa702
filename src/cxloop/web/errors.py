"""One error body everywhere: ``{"error": {"code": ..., "message": ..., [fields | suggestions]}}``.

Status codes:

* 401 ``not_authenticated`` / ``invalid_credentials``: no or bad credentials;
* 404 ``unit_not_found``: the unit does not exist **or lies outside the viewer's subtree** -- the two are
  answered alike (same status, same message, suggestions from the viewer's own units), so a branch
  manager cannot learn which other units exist;
* 404 ``no_data``: nothing matches; 404 ``not_found`` for an unknown path; 405 ``method_not_allowed``;
* 422 ``validation_error``: a parameter is missing or malformed (``fields`` says which and why),
  or ``bad_request`` when values are well-formed but cannot be combined;
* 429 ``too_many_attempts``: login throttled (``Retry-After`` header);
* 500 ``internal_error``: a bug, never the user's input (no details leak).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxloop.services.access.scope import ScopeError, UnknownUnitError

__all__ = ["ApiError", "error_body", "install_error_handlers"]

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


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the standard body."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field(e.get("loc", ())), "reason": str(e.get("msg", ""))} for e in exc.errors()]
        shown = "; ".join(f"{f['field']}: {f['reason']}" for f in fields[:5])
        return JSONResponse(
            error_body("validation_error", f"invalid request: {shown}", fields=fields), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(UnknownUnitError)
    async def _unknown_unit(_request: Request, exc: UnknownUnitError) -> JSONResponse:
        return _unit_not_found(exc.unit_id, list(exc.suggestions))

    @app.exception_handler(ScopeError)
    async def _scope(_request: Request, exc: ScopeError) -> JSONResponse:
        # Routes check units first (deps.visible_unit), which turns this into UnknownUnitError with
        # suggestions; this is the fallback for a service raising it directly.
        return _unit_not_found(exc.unit_id, [])

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
