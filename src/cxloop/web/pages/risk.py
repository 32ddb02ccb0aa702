"""Pages for churn risk: at-risk list per unit (issue 11).

The page and ``GET /api/v1/units/{unit_id}/at-risk`` call the same service function with the same viewer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cxloop.services.access.scope import ScopeError, UnknownUnitError
from cxloop.services.access.units import get_unit
from cxloop.services.value import churn as svc
from cxloop.web.deps import SessionDep, SettingsDep, WarehouseDep, page_viewer
from cxloop.web.rendering import not_found_page, templates, to_login

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/units/{unit_id}/at-risk")
def at_risk_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_risk: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
) -> Response:
    page = page_viewer(request, settings, session)
    if page is None:
        return to_login()
    try:
        result = svc.at_risk(
            page.viewer, unit_id, settings=settings, limit=limit, min_risk=min_risk, con=con, session=session
        )
        message = None
    except (ScopeError, UnknownUnitError):
        return not_found_page(f"No unit {unit_id} among the units you can see.")
    except svc.NoModelError as exc:
        result, message = None, str(exc)
    unit = get_unit(session, unit_id)
    context = page.context(unit=unit, result=result, message=message, min_risk=min_risk, limit=limit)
    return templates.TemplateResponse(request, "at_risk.html", context)
