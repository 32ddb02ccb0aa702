"""``GET /healthz`` (is the process up) and ``GET /readyz`` (can it serve: the stores), no authentication.

``/healthz`` touches no store, so a liveness probe never restarts a process because a disk filled up;
``/readyz`` runs the readiness checks (:mod:`cxloop.services.readiness`) and answers 503 with each failing
check's reason, so a load balancer stops sending traffic until an operator has acted. Both are for
anonymous probes: the readiness body names checks and reasons, never a path, a URL or a version of a store.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cxloop import __version__
from cxloop.services.readiness import ReadinessProbe
from cxloop.web.schemas import HealthPublic, ReadinessCheckPublic, ReadinessPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="Liveness check (no authentication)")
def healthz() -> HealthPublic:
    """The process is up; no store is touched."""
    return HealthPublic(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=ReadinessPublic,
    summary="Readiness check (no authentication)",
    responses={503: {"model": ReadinessPublic, "description": "Not ready: each failing check says why."}},
)
def readyz(request: Request) -> JSONResponse:
    """Both stores reachable and writable, the app database's migrations current, free disk space above
    `CXLOOP_MIN_FREE_DISK_MB`: 200 when all hold, else 503 with each failing check's reason."""
    probe: ReadinessProbe = request.app.state.readiness
    readiness = probe.check()
    body = ReadinessPublic(
        status="ready" if readiness.ready else "not_ready",
        checks={c.name: ReadinessCheckPublic(ok=c.ok, reason=c.reason) for c in readiness.checks},
    )
    return JSONResponse(body.model_dump(), status_code=200 if readiness.ready else 503)
