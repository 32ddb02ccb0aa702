"""Churn risk: at-risk customers per unit, scores and explanations (issue 11)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["risk"])
