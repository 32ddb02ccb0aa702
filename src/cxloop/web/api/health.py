"""``GET /healthz``: is the server up (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter

from cxloop import __version__
from cxloop.web.schemas import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="Liveness check (no authentication)")
def healthz() -> HealthPublic:
    return HealthPublic(status="ok", version=__version__)
