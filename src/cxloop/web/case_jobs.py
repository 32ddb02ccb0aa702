"""The in-app periodic job of the closed loop: open the cases of posted responses whose alert rules failed,
escalate SLA-breached cases and deliver pending notifications.

Started by ``create_app``'s lifespan every ``CXLOOP_ESCALATION_INTERVAL_SECONDS`` (0 disables it; then run
``cxloop cases escalate`` from cron, and posts whose rules failed are finished by a retry or at the next
start). Every step is idempotent (each SLA clock escalates a case once; a rule opens one case per subject),
so several app processes, or the app and cron, may run it side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from cxloop.config import Settings
from cxloop.services.act import cases
from cxloop.services.act import notifications as notify
from cxloop.services.stores import session_scope

__all__ = ["CaseJobs", "run_once", "start", "stop"]

_log = logging.getLogger("cxloop.cases")


def run_once(
    settings: Settings, engine: Engine, recover: Callable[[], object] | None = None
) -> tuple[int, int]:
    """One round: ``recover`` (the cases of posts whose rules failed), escalate what is due, then deliver
    what is pending; ``(escalated, sent)``. A failed recovery is logged and does not hold up the rest."""
    if recover is not None:
        try:
            recover()
        except Exception:  # noqa: BLE001 - retried next round; escalation does not wait for it
            _log.exception("recovery of posted responses' cases failed")
    with session_scope(engine) as session:
        result = cases.escalate(session, settings=settings)
    sent = notify.deliver_pending(engine, settings).sent
    return len(result.escalated), sent


@dataclass
class CaseJobs:
    task: asyncio.Task | None
    stopping: asyncio.Event


async def _loop(
    settings: Settings, engine: Engine, stopping: asyncio.Event, recover: Callable[[], object] | None
) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=settings.escalation_interval_seconds)
        if stopping.is_set():
            return
        try:
            await run_in_threadpool(run_once, settings, engine, recover)
        except Exception:  # noqa: BLE001 - a failed round is logged and retried next round
            _log.exception("case escalation / notification round failed")


def start(settings: Settings, engine: Engine, *, recover: Callable[[], object] | None = None) -> CaseJobs:
    """Start the job (a no-op when the interval is 0); ``recover`` runs first in every round."""
    stopping = asyncio.Event()
    if settings.escalation_interval_seconds <= 0:
        return CaseJobs(None, stopping)
    return CaseJobs(asyncio.create_task(_loop(settings, engine, stopping, recover)), stopping)


async def stop(jobs: CaseJobs) -> None:
    jobs.stopping.set()
    if jobs.task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await jobs.task
