"""``POST /api/v1/responses`` and the signed survey-tool webhook: real-time ingestion (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["responses"])
