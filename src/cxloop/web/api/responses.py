"""``POST /api/v1/responses`` and the signed survey-tool webhook: real-time ingestion.

Both hand the posted responses to :func:`cxloop.services.listen.realtime.ingest_responses`: the file import's
validation and idempotency, then the alert rules, so a detractor is a case when the request returns.
Writes go through the app's importer (``app.state.importer``: set up once, its own warehouse connection,
under the app's write lock: DuckDB has one writer); the rules read through a pooled connection.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from pydantic import BaseModel, Field, SecretStr

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.act import notifications as notify
from cxloop.services.listen.catalogue import SIGNED_WEBHOOK, CatalogueRights
from cxloop.services.listen.imports import ImportFileError
from cxloop.services.listen.realtime import TooManyResponses, ingest_responses, parse_body
from cxloop.services.stores import session_scope
from cxloop.web.deps import get_viewer
from cxloop.web.errors import ApiError, error_body
from cxloop.web.schemas import ErrorPublic

__all__ = ["router"]

router = APIRouter(
    tags=["responses"],
    responses={
        400: {"model": ErrorPublic, "description": "The body is not JSON."},
        401: {"model": ErrorPublic, "description": "No or invalid credentials, or a bad webhook signature."},
        404: {"model": ErrorPublic, "description": "No such webhook source."},
    },
)

_EXAMPLE = {
    "response_id": "web-2026-000123",
    "submitted_at": "2026-11-23T10:15:00Z",
    "unit_id": "br-0001",
    "customer_id": "c-000042",
    "touchpoint": "branch_visit",
    "channel": "email",
    "nps": 3,
    "csat": 2,
    "comment": "Waited 40 minutes and nobody could help.",
    "q_staff_friendliness": 4,
}


class RowProblemPublic(BaseModel):
    row: int = Field(description="Position of the response in the request, from 1.")
    response_id: str | None
    column: str = Field(description="The column(s) that failed, joined by '; '.")
    reason: str


class IngestPublic(BaseModel):
    received: int
    accepted: int = Field(description="Responses stored now.")
    duplicates: int = Field(description="Responses whose response_id was stored already (left as stored).")
    rejected: int
    problems: list[RowProblemPublic]
    cases_opened: list[int] = Field(
        description="Ids of the cases the alert rules opened for these responses."
    )
    import_run_id: int | None
    notes: list[str]


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key from `cxloop apikeys create`.")


def ingest_viewer(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Viewer:
    """The viewer, resolved in a session of its own that is committed at once: ingestion writes the app
    database from other sessions, and SQLite allows one writer (the key's ``last_used_at`` is a write)."""
    with session_scope(request.app.state.engine) as session:
        return get_viewer(request, request.app.state.settings, session, token, api_key)


def _deliver(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.smtp_host or settings.case_webhook_url:
        notify.deliver_pending(request.app.state.engine, settings)


async def _ingest(
    request: Request,
    payload: Any,
    viewer: Viewer | None,
    source: str,
    tasks: BackgroundTasks,
    catalogue: CatalogueRights | None = None,
) -> JSONResponse:
    try:
        records = parse_body(payload)
    except ImportFileError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None

    def work() -> Any:
        with request.app.state.warehouse.borrow() as con:
            return ingest_responses(
                records,
                settings=request.app.state.settings,
                engine=request.app.state.engine,
                con=con,
                viewer=viewer,
                source=source,
                importer=request.app.state.importer,
                catalogue=catalogue,
            )

    try:
        result = await run_in_threadpool(work)
    except TooManyResponses as exc:
        raise ApiError(413, "too_large", str(exc)) from None
    except ImportFileError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    body = result.to_dict()
    if result.cases_opened:
        tasks.add_task(_deliver, request)
    if result.rejected == result.received:
        shown = "; ".join(f"row {p.row}: {p.column}: {p.reason}" for p in result.problems[:5])
        content = error_body("rejected_rows", f"every response was rejected: {shown}", **body)
        return JSONResponse(content, status_code=422)
    return JSONResponse(body, status_code=201 if result.accepted else 200)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": IngestPublic, "description": "Some responses were stored (counts and any rejected rows)."},
    200: {"model": IngestPublic, "description": "Nothing new: every valid response was stored already."},
    413: {
        "model": ErrorPublic,
        "description": "More responses than CXLOOP_MAX_ROWS_PER_REQUEST (default 5,000); nothing was stored.",
    },
    422: {
        "description": (
            "Every response was rejected (e.g. a comment longer than CXLOOP_MAX_COMMENT_CHARS, or a "
            "touchpoint, segment or item the catalogue lacks from anyone but an admin of the whole "
            "organisation); `error.problems` gives each row's reason. Or the batch cannot be used at all (a "
            "malformed `q_<item>` name, too many new driver items): the message says which, nothing stored."
        )
    },
}


@router.post(
    "/api/v1/responses",
    status_code=201,
    response_model=IngestPublic,
    responses=_RESPONSES,
    summary="Post survey responses (one or a batch) in real time",
)
async def post_responses(
    request: Request,
    viewer: Annotated[Viewer, Depends(ingest_viewer)],
    tasks: BackgroundTasks,
    payload: Annotated[
        Any,
        Body(
            description=(
                'One response object, a list of them, or `{"responses": [...]}` (at most '
                "CXLOOP_MAX_ROWS_PER_REQUEST, default 5,000). Columns as in a responses file "
                "(docs/data-formats.md): response_id, submitted_at and unit_id required; nps, csat, ces, "
                "comment (at most CXLOOP_MAX_COMMENT_CHARS characters, default 20,000), customer_id, "
                "touchpoint, channel, segment, survey_id and q_<item> driver answers optional; ids and "
                "other text have their own ceilings. A row with a longer value is rejected with its reason."
            ),
            openapi_examples={"one": {"value": _EXAMPLE}, "batch": {"value": [_EXAMPLE]}},
        ),
    ],
) -> JSONResponse:
    """Validate and store responses exactly like a file import (same row-level reasons; a `response_id`
    stored already counts as a duplicate), then run the alert rules: matching responses are cases when this
    returns. An API key or user sees its subtree: rows for other units are rejected as unknown units. Only an
    admin of the whole organisation adds touchpoints, segments and driver items: anyone else's rows naming
    one the catalogue lacks are rejected with the reason. A malformed `q_<item>` name, more than
    `CXLOOP_MAX_NEW_ITEMS_PER_REQUEST` new items, or new items past `CXLOOP_MAX_ITEMS` is a 422 and nothing
    is stored."""
    return await _ingest(request, payload, viewer, "api", tasks)


@router.post(
    "/api/v1/webhooks/{source}",
    status_code=201,
    response_model=IngestPublic,
    responses={**_RESPONSES, 401: {"description": "Missing, wrong or stale signature."}},
    summary="Signed webhook receiver for survey tools",
)
async def webhook(
    request: Request,
    tasks: BackgroundTasks,
    source: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
) -> JSONResponse:
    """A survey tool posts responses here, signed with the source's secret (``CXLOOP_WEBHOOK_SECRETS``):
    header ``X-Cxloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>``. Deliveries
    more than ``CXLOOP_WEBHOOK_TOLERANCE_SECONDS`` from now are refused (replays). Body as for
    ``POST /api/v1/responses``."""
    settings: Settings = request.app.state.settings
    secret = settings.webhook_secrets.get(source)
    if secret is None:
        raise ApiError(404, "not_found", f"no webhook source {source!r}: add it to CXLOOP_WEBHOOK_SECRETS")
    header = request.headers.get(notify.SIGNATURE_HEADER)
    # Missing or stale: refused before the body is read (the body's size is capped by BodyGuard).
    now, tolerance = time.time(), settings.webhook_tolerance_seconds
    if (problem := notify.check_signature_header(header, now=now, tolerance=tolerance)) is not None:
        raise ApiError(401, "bad_signature", problem)
    raw = await request.body()
    problem = notify.verify_signature(
        secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret),
        raw,
        header,
        now=now,
        tolerance=tolerance,
    )
    if problem is not None:
        raise ApiError(401, "bad_signature", problem)
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the body is not JSON: {exc}") from None
    return await _ingest(request, payload, None, f"webhook-{source}", tasks, catalogue=SIGNED_WEBHOOK)
