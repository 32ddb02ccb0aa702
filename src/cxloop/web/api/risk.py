"""Churn risk: at-risk customers per unit, scores and explanations.

Thin routes over :mod:`cxloop.services.value.churn`: the path's unit is checked against the viewer's subtree
(outside it answers 404 like an unknown unit) and the service scopes every query again. The at-risk list
reads the same parameters as its page (:data:`~cxloop.web.queries.AtRiskDep`).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cxloop.services.value import churn as svc
from cxloop.services.value.money import NoTransactionsError
from cxloop.web.deps import StoresDep, ViewerDep, VisibleUnitDep
from cxloop.web.errors import ApiError
from cxloop.web.queries import AtRiskDep
from cxloop.web.schemas import ErrorPublic

__all__ = ["router"]

router = APIRouter(tags=["risk"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    404: {
        "model": ErrorPublic,
        "description": "Unknown unit or customer, outside your scope, or no scores yet.",
    },
    422: {"model": ErrorPublic, "description": "A parameter is missing or malformed."},
}


class ReasonPublic(BaseModel):
    group: str = Field(description="Feature group the reason is about.")
    text: str = Field(description="The reason in plain words.")
    risk_points: float = Field(
        description="How much lower the risk would be with this group at typical values."
    )


class AtRiskCustomerPublic(BaseModel):
    customer_id: str
    unit_id: str
    segment: str | None
    risk: float = Field(description="Probability of churning within the model's horizon.")
    clv: float | None = Field(description="Stored customer lifetime value (None if not scored).")
    expected_value_lost: float | None = Field(description="risk x CLV.")
    reasons: list[ReasonPublic]


class UnitRiskPublic(BaseModel):
    unit_id: str
    customers: int | None
    expected_churners: float | None
    mean_risk: float | None
    expected_value_lost: float | None
    suppressed: bool = Field(description="Fewer customers than the anonymity threshold: figures withheld.")


class AtRiskPublic(BaseModel):
    unit_id: str
    scored_at: str | None
    model_id: str | None
    total_customers: int
    min_n: int
    customers: list[AtRiskCustomerPublic]
    units: list[UnitRiskPublic] = Field(description="The unit's children: customers and value at risk.")


class ExplanationPublic(BaseModel):
    customer_id: str
    unit_id: str
    as_of: str
    model_id: str
    risk: float
    reasons: list[ReasonPublic]
    contributions: dict[str, float] = Field(description="Risk minus risk with each group at typical values.")
    features: dict[str, float | str | None]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@router.get(
    "/api/v1/units/{unit_id}/at-risk",
    response_model=AtRiskPublic,
    responses=_ERRORS,
    summary="Customers of a unit's subtree most at risk of leaving, by expected value lost",
)
def unit_at_risk(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    query: AtRiskDep,
) -> AtRiskPublic:
    try:
        result = query.ask(viewer, unit_id, stores=stores)
    except (svc.NoModelError, svc.NoEventsError) as exc:
        raise ApiError(404, "no_scores", str(exc)) from None
    customers = [
        AtRiskCustomerPublic(**{str(k): _clean(v) for k, v in row.items()})
        for row in result.customers.to_dict(orient="records")
    ]
    units = [
        UnitRiskPublic(**{str(k): _clean(v) for k, v in row.items()})
        for row in result.summary.to_dict(orient="records")
    ]
    return AtRiskPublic(
        unit_id=result.unit_id,
        scored_at=result.scored_at.isoformat() if result.scored_at else None,
        model_id=result.model_id,
        total_customers=result.total_customers,
        min_n=result.min_n,
        customers=customers,
        units=units,
    )


@router.get(
    "/api/v1/customers/{customer_id}/churn-risk",
    response_model=ExplanationPublic,
    responses=_ERRORS,
    summary="One customer's churn risk and its top reasons in words",
)
def customer_risk(
    customer_id: str,
    viewer: ViewerDep,
    stores: StoresDep,
) -> ExplanationPublic:
    if len(customer_id) > 200:
        raise ApiError(422, "bad_request", "customer_id is too long")
    try:
        result = svc.explain_customer(viewer, customer_id, stores=stores)
    except NoTransactionsError as exc:  # the mapping's no_data; this route has always said not_found
        raise ApiError(404, "not_found", str(exc)) from None
    payload = result.to_dict()
    payload["features"] = {k: _clean(v) for k, v in payload["features"].items()}
    return ExplanationPublic(**payload)
