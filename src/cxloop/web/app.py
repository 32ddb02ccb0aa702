"""The FastAPI application factory.

>>> from cxloop.config import Settings
>>> from cxloop.web.app import create_app
>>> app = create_app(Settings())  # doctest: +SKIP

OpenAPI is served at ``/openapi.json`` and documented at ``/docs``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from cxloop import __version__
from cxloop.config import Settings
from cxloop.services import cache
from cxloop.services.act.rules.engine import run_on_arrival
from cxloop.services.listen.arrival import Recovery, recover_arrivals
from cxloop.services.listen.imports import Importer, fail_interrupted_runs
from cxloop.services.readiness import ReadinessProbe
from cxloop.services.stores import engine_for
from cxloop.web import case_jobs
from cxloop.web.api import auth, cases, health, me, pilots, plans, responses, risk, units
from cxloop.web.api import dashboard as dashboard_api
from cxloop.web.deps import WarehouseConnections
from cxloop.web.errors import install_error_handlers
from cxloop.web.exposure import KEY_ADVICE, LoopbackOnly
from cxloop.web.freshness import DashboardReads, Refreshes
from cxloop.web.headers import SecuredApp
from cxloop.web.inputs import printable_parameters, with_printable_parameters
from cxloop.web.limits import BodyGuard
from cxloop.web.pages import api_docs, assets
from cxloop.web.pages import cases as case_pages
from cxloop.web.pages import dashboard as dashboard_pages
from cxloop.web.pages import home as pages
from cxloop.web.pages import pilots as programme_pages
from cxloop.web.pages import plans as plan_pages
from cxloop.web.pages import risk as risk_pages
from cxloop.web.pages import units as explore
from cxloop.web.pages import uploads as upload_pages
from cxloop.web.security import LoginThrottle

__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]

_log = logging.getLogger("cxloop.auth")
_repair_log = logging.getLogger(__name__)

#: The periodic recovery pass leaves a post's record this long (the post may be running its own rules).
RECOVERY_GRACE = timedelta(minutes=1)

#: Every page and API answer: scripts and everything else only from this origin (plotly.js is served
#: from the package), no inline script, no framing, forms post only here. Inline *style* is allowed: plotly.js
#: applies inline styles, which Chromium refuses under style-src 'self' (seen in the browser test).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# /docs and /redoc bootstrap Swagger UI / ReDoc (served from the package: pages/api_docs.py) with an inline
# script, and ReDoc styles itself inline; nothing is loaded from elsewhere.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings, *, login_throttle: LoginThrottle | None = None) -> FastAPI:
    """A cxloop web app over the stores named by ``settings``.

    Parameters
    ----------
    settings
        Stores, ``secret_key`` (signs tokens) and ``min_n`` (anonymity).
    login_throttle
        Failed-login limiter (default: 5 failures per e-mail and 20 per client address per 15 minutes).

    Without ``CXLOOP_SECRET_KEY`` (development only) the app signs with a random key generated for the data
    directory, says so in a warning, and answers only requests that arrive on a loopback address
    (:class:`~cxloop.web.exposure.LoopbackOnly`).
    """
    if not settings.has_secret_key:
        settings.signing_secret()  # made now, so an unusable key file stops the start, not the first login
        _log.warning(
            "no CXLOOP_SECRET_KEY: signing with a random key generated for this data directory (%s); "
            "answering on loopback addresses only. To serve beyond this machine, %s",
            settings.development_secret_path,
            KEY_ADVICE,
        )
    engine = engine_for(settings)
    warehouse = WarehouseConnections(settings)
    cache.results.limit(max_bytes=settings.result_cache_mb << 20)  # the process's cache of answers
    refreshes = Refreshes()  # dashboard answers recomputed in the background (web/freshness.py)
    write_lock = threading.Lock()  # DuckDB has one writer: API ingestion takes turns
    # Real-time ingestion's importer: migration check, warehouse tables and writer set up once (on the first
    # post), its own warehouse connection, writes under the app's lock; the alert rules run on what it stored.
    importer = Importer(
        settings,
        engine=engine,
        connect_warehouse=warehouse.open,
        lock=write_lock,
        after_store=(run_on_arrival,),
    )

    def recover(grace: timedelta = RECOVERY_GRACE) -> Recovery:
        """Open the cases of posted responses whose rules failed or whose process died (idempotent)."""
        return recover_arrivals(
            importer.after_store, settings=settings, engine=engine, warehouse=warehouse.borrow, grace=grace
        )

    def repair() -> None:
        """What a stopped process left behind: its import runs at ``running``, posts without their cases.
        A store that fails here is logged, not fatal: the app starts and ``/readyz`` says what is wrong."""
        try:
            fail_interrupted_runs(engine)
            recover(timedelta(0))
        except Exception:  # noqa: BLE001 - see the docstring
            _repair_log.exception("start-up repair (interrupted imports, pending cases) failed")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(repair)
        # Recovery of pending cases, SLA escalation and notifications, every N seconds.
        jobs = case_jobs.start(settings, engine, recover=recover)
        yield
        await run_in_threadpool(refreshes.wait, 60)  # background dashboard refreshes still at work
        await case_jobs.stop(jobs)
        with write_lock:
            importer.close()
        engine.dispose()
        warehouse.dispose()

    app = SecuredApp(
        policy=CONTENT_SECURITY_POLICY,
        docs_policy=_DOCS_CSP,
        docs_paths=api_docs.DOCS_PATHS,
        docs_url=None,  # served by pages/api_docs.py from the package, not a CDN
        redoc_url=None,
        title="cxloop",
        version=__version__,
        description=(
            "Customer-experience metrics scoped to your place in the organisation. Authenticate with a "
            "bearer token from `POST /api/v1/auth/token` or an `X-API-Key` header. Units outside your "
            "scope answer 404, exactly like units that do not exist."
        ),
        lifespan=lifespan,
        dependencies=[Depends(printable_parameters)],
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_printable_parameters(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    app.state.settings = settings
    app.state.engine = engine
    app.state.warehouse = warehouse
    app.state.warehouse_write_lock = write_lock
    app.state.importer = importer
    app.state.readiness = ReadinessProbe(settings, engine, warehouse.borrow)
    app.state.login_throttle = login_throttle or LoginThrottle()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(units.router)
    app.include_router(pages.router)
    app.include_router(assets.router)
    app.include_router(api_docs.router)
    app.include_router(explore.router)
    # One router per capability, so that each is added and changed in its own module.
    for router in (responses.router, cases.router, plans.router, risk.router, pilots.router):
        app.include_router(router)
    for router in (dashboard_api.router, me.router):
        app.include_router(router)
    for router in (
        dashboard_pages.router,
        case_pages.router,
        plan_pages.router,
        programme_pages.router,
        upload_pages.router,
        risk_pages.router,
    ):
        app.include_router(router)

    # Added first, so it runs inside the others: SecurityHeaders puts its headers on BodyGuard's own 401/413
    # answers, and LoopbackOnly refuses a request before BodyGuard looks at its credentials.
    app.add_middleware(BodyGuard, settings=settings, engine=engine)
    app.state.dashboard_refreshes = refreshes
    app.add_middleware(
        DashboardReads,
        staleness_seconds=settings.dashboard_staleness_seconds,
        refreshes=app.state.dashboard_refreshes,
    )
    if not settings.has_secret_key:
        app.add_middleware(LoopbackOnly)  # inside SecurityHeaders (outermost): its refusals carry them too

    return app
