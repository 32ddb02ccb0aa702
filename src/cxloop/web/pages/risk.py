"""Pages for churn risk: the at-risk list of a unit.

The page and ``GET /api/v1/units/{unit_id}/at-risk`` read the same parameters
(:data:`~cxloop.web.queries.AtRiskDep`) and call the same service function with the same viewer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cxloop.services.value import churn as svc
from cxloop.web.deps import PageUnitDep, PageViewerDep, StoresDep
from cxloop.web.queries import AtRiskDep
from cxloop.web.rendering import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/units/{unit_id}/at-risk")
def at_risk_page(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    unit: PageUnitDep,
    query: AtRiskDep,
    stores: StoresDep,
) -> Response:
    try:
        result = query.ask(page.viewer, unit_id, stores=stores)
        message = None
    except svc.NoModelError as exc:
        result, message = None, str(exc)
    context = page.context(
        unit=unit, result=result, message=message, min_risk=query.min_risk, limit=query.limit
    )
    return templates.TemplateResponse(request, "at_risk.html", context)
