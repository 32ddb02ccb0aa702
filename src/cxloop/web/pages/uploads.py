"""Admin page to upload a survey-tool export, preview and adjust the mapping, import.

``/admin/upload``: choose a file (Qualtrics, SurveyMonkey, Google Forms or Typeform; CSV or .xlsx).
``/admin/upload/{id}``: first the detected format and the proposed mapping on the first rows, in a form
where each column's role, item name and scale can be changed; after "Import", the progress (the page
refreshes itself, no JavaScript needed) and then the same row-level report as the CLI. The logic is
:mod:`cxloop.services.listen.uploads`; this module parses forms and renders. Admins only (anyone else gets the
same plain 404 whatever they ask for); every POST carries the session's CSRF token.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cxloop.services.access.scope import Role
from cxloop.services.listen.survey_exports import EXPORT_SOURCES, ExportPreview
from cxloop.services.listen.undo import UndoRefused, run_status, undo_import
from cxloop.services.listen.uploads import (
    ROLES,
    ColumnChoice,
    IncomingUpload,
    UploadError,
    UploadNotFound,
    UploadTooLarge,
    create_upload,
    get_upload,
    mapping_from_choices,
    preview_upload,
    receive_upload,
    run_upload,
    stalled,
    start_upload,
)
from cxloop.services.stores import session_scope
from cxloop.web.deps import FormViewerDep, PageViewer, PageViewerDep, SessionDep, SettingsDep, StoresDep
from cxloop.web.errors import BodyTooLarge, CsrfRefused, PageError
from cxloop.web.rendering import templates
from cxloop.web.upload_form import FormRefused, read_upload_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_ROLE_LABELS = {
    "response_id": "response id",
    "submitted_at": "submitted at",
    "unit_id": "unit",
    "customer_id": "customer id",
    "touchpoint": "touchpoint",
    "channel": "channel",
    "segment": "segment",
    "nps": "NPS (0-10)",
    "csat": "CSAT (1-5)",
    "ces": "CES (1-7)",
    "comment": "comment",
    "item": "driver item",
    "attribute": "attribute",
    "ignored": "leave out",
}


def _not_found() -> PageError:
    return PageError(404, None, "Not found")


def _admin(page: PageViewerDep) -> PageViewer:
    """The logged-in viewer if an admin; anyone else gets the plain 404."""
    if page.viewer.role != Role.admin:
        raise _not_found()
    return page


AdminDep = Annotated[PageViewer, Depends(_admin)]


def _form_page(request: Request, context: dict, *, error: str | None = None, status: int = 200) -> Response:
    context = {**context, "error": error, "sources": EXPORT_SOURCES}
    return templates.TemplateResponse(request, "upload.html", context, status_code=status)


@router.get("/admin/upload")
def upload_form(request: Request, who: AdminDep) -> Response:
    return _form_page(request, who.context())


@router.post("/admin/upload")
async def upload_submit(request: Request, who: AdminDep, settings: SettingsDep) -> Response:
    """The export streams into its upload folder (:mod:`cxloop.web.upload_form`): only once the admin check
    above has passed, and the CSRF token before the file has been checked."""
    viewer, context = who.viewer, who.context()

    def open_file(file_name: str, fields: dict[str, str]) -> IncomingUpload:
        if not who.csrf_ok(fields.get("csrf_token")):
            raise FormRefused(403, "The form expired; please try again.")
        return receive_upload(viewer, settings=settings, file_name=file_name or "export.csv")

    try:
        form = await read_upload_form(request, open_file)
    except FormRefused as exc:
        return _form_page(request, context, error=exc.message, status=exc.status)
    except UploadTooLarge as exc:
        return _form_page(request, context, error=str(exc), status=413)
    except UploadError as exc:
        return _form_page(request, context, error=str(exc), status=400)
    except BodyTooLarge as exc:
        return _form_page(request, context, error=f"The file is too large: {exc.message}.", status=413)
    upload, fields = form.upload, form.fields
    if upload is None:
        csrf_ok = who.csrf_ok(fields.get("csrf_token"))
        error, status = (
            ("Choose a file to upload.", 400) if csrf_ok else ("The form expired; please try again.", 403)
        )
        return _form_page(request, context, error=error, status=status)
    source = fields.get("from", "auto")
    if source not in EXPORT_SOURCES:
        upload.discard()
        return _form_page(request, context, error=f"Unknown export format {source[:32]!r}.", status=400)
    include_preview = fields.get("include_preview", "").lower() in {"true", "on", "1", "yes"}

    def keep() -> str:
        # Committed before the redirect: the next request must find the job, whatever the server's
        # timing of the request session's own commit.
        with session_scope(request.app.state.engine) as own:
            job, _ = create_upload(
                viewer, upload, settings=settings, session=own, tool=source, include_preview=include_preview
            )
            return job.id

    try:
        job_id = await run_in_threadpool(keep)
    except UploadError as exc:
        return _form_page(request, context, error=str(exc), status=400)
    return RedirectResponse(f"/admin/upload/{job_id}", status_code=303)


def _rows_for(preview: ExportPreview) -> list[dict[str, Any]]:
    """One row per export column for the mapping form: current role, item, scale, sample values."""
    mapping = preview.mapping
    roles = {column: role for role, column in (mapping.get("columns") or {}).items()}
    items = {spec["column"]: (name, spec) for name, spec in (mapping.get("items") or {}).items()}
    attributes = set((mapping.get("export") or {}).get("attributes", ()))
    out = []
    for index, proposed in enumerate(preview.proposal.columns):
        column = proposed.column
        item, low, high = "", "", ""
        if column in roles:
            role = roles[column]
        elif column in items:
            role = "item"
            item = items[column][0]
            scale = items[column][1].get("scale") or ["", ""]
            low, high = scale[0], scale[1]
        elif column in attributes:
            role = "attribute"
        else:
            role = "ignored"
        samples = [row.get(column) for row in preview.rows[:3]]
        out.append(
            {
                "index": index,
                "column": column,
                "question": proposed.question,
                "role": role,
                "item": item or proposed.item or "",
                "low": low,
                "high": high,
                "samples": [s for s in samples if s],
                "reason": proposed.reason,
            }
        )
    return out


def _canonical_table(preview: ExportPreview) -> tuple[list[str], list[list[Any]]]:
    records = preview.canonical_rows()
    names: list[str] = []
    for record in records:
        names += [k for k in record if k not in names]
    return names, [[record.get(name) for name in names] for record in records]


def _preview_page(
    request: Request,
    context: dict,
    job: Any,
    preview: ExportPreview,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    names, rows = _canonical_table(preview)
    constants = preview.mapping.get("constants") or {}
    notes = [*preview.proposal.notes, *preview.notes] if not preview.reused else list(preview.notes)
    page = {
        **context,
        "job": job,
        "preview": preview,
        "columns": _rows_for(preview),
        "roles": [(role, _ROLE_LABELS[role]) for role in ROLES],
        "canonical_names": names,
        "canonical_rows": rows,
        "unit": constants.get("unit_id", ""),
        "notes": notes,
        "error": error,
    }
    return templates.TemplateResponse(request, "upload_preview.html", page, status_code=status)


@router.get("/admin/upload/{job_id}")
def upload_page(
    job_id: str, request: Request, who: AdminDep, settings: SettingsDep, session: SessionDep
) -> Response:
    viewer, context = who.viewer, who.context()
    try:
        job = get_upload(viewer, job_id[:32], session)
        if job.status == "uploaded":
            return _preview_page(
                request, context, job, preview_upload(viewer, job.id, settings=settings, session=session)
            )
    except UploadNotFound:
        raise _not_found() from None
    except UploadError as exc:
        return _form_page(request, context, error=str(exc), status=400)
    return _job_page(request, context, job, session)


def _job_page(request: Request, context: dict, job: Any, session: Any, error: str | None = None) -> Response:
    summary = job.summary or {}
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    run_id = summary.get("run_id")
    page = {
        **context,
        "job": job,
        "summary": summary,
        "percent": percent,
        "stalled": stalled(job),
        "run_status": run_status(session, int(run_id)) if isinstance(run_id, int) else None,
        "undo_error": error,
    }
    return templates.TemplateResponse(request, "upload_job.html", page, status_code=409 if error else 200)


@router.post("/admin/upload/{job_id}/undo")
def upload_undo(
    job_id: str,
    request: Request,
    who: AdminDep,
    _form: FormViewerDep,  # after the admin check: anyone else gets the 404 whatever the token
    stores: StoresDep,
) -> Response:
    """Undo the import this upload ran (:func:`cxloop.services.listen.undo.undo_import`): its rows leave
    the warehouse; a refusal is shown on the job's page with its reason."""
    viewer = who.viewer
    try:
        job = get_upload(viewer, job_id[:32], stores.session)
    except UploadNotFound:
        raise _not_found() from None
    run_id = (job.summary or {}).get("run_id")
    try:
        if not isinstance(run_id, int):
            raise UndoRefused("this upload stored nothing: there is nothing to undo")
        undo_import(viewer, run_id, stores=stores)
    except UndoRefused as exc:
        return _job_page(request, who.context(), job, stores.session, error=str(exc))
    return RedirectResponse(f"/admin/upload/{job.id}", status_code=303)


@router.get("/admin/upload/{job_id}/status")
def upload_status(job_id: str, who: AdminDep, session: SessionDep) -> Response:
    try:
        job = get_upload(who.viewer, job_id[:32], session)
    except UploadNotFound:
        raise _not_found() from None
    return JSONResponse(
        {
            "id": job.id,
            "status": job.status,
            "done": job.done,
            "total": job.total,
            "rows": job.rows,
            "summary": job.summary or None,
            "error": job.error or None,
        }
    )


def _choices(form: Any, preview: ExportPreview) -> dict[str, ColumnChoice]:
    choices = {}
    for index, proposed in enumerate(preview.proposal.columns):
        role = str(form.get(f"role_{index}", "ignored"))
        low, high = form.get(f"low_{index}", ""), form.get(f"high_{index}", "")
        try:
            low_value = float(low) if str(low).strip() else None
            high_value = float(high) if str(high).strip() else None
        except ValueError:
            raise UploadError(f"{proposed.column}: the scale must be numbers, e.g. 1 and 5") from None
        choices[proposed.column] = ColumnChoice(
            role, str(form.get(f"item_{index}", ""))[:64], low_value, high_value
        )
    return choices


@router.post("/admin/upload/{job_id}/import")
async def upload_import(
    job_id: str, request: Request, who: AdminDep, settings: SettingsDep, session: SessionDep
) -> Response:
    form = await request.form()
    if not who.csrf_ok(str(form.get("csrf_token", ""))):
        raise CsrfRefused
    # The rest reads files and databases: off the event loop.
    return await run_in_threadpool(_import_submitted, job_id, request, who, settings, session, form)


@router.post("/admin/upload/{job_id}/resume")
def upload_resume(
    job_id: str,
    request: Request,
    who: AdminDep,
    _form: FormViewerDep,  # after the admin check: anyone else gets the 404 whatever the token
    settings: SettingsDep,
    session: SessionDep,
) -> Response:
    """Start a stalled upload again with the mapping it was started with."""
    viewer = who.viewer
    try:
        job = get_upload(viewer, job_id[:32], session)
        with session_scope(request.app.state.engine) as own:
            start_upload(viewer, job.id, dict(job.mapping), settings=settings, session=own)
    except UploadNotFound:
        raise _not_found() from None
    except UploadError as exc:
        context = who.context()
        return _form_page(request, context, error=str(exc), status=400)
    _start_thread(request, settings, job.id)
    return RedirectResponse(f"/admin/upload/{job.id}", status_code=303)


def _start_thread(request: Request, settings: Any, job_id: str) -> None:
    warehouse = request.app.state.warehouse

    def work() -> None:
        con = warehouse.open()
        try:
            run_upload(job_id, settings=settings, warehouse=con)
        finally:
            con.disconnect()

    threading.Thread(target=work, name=f"upload-{job_id}", daemon=True).start()


def _import_submitted(
    job_id: str, request: Request, who: PageViewer, settings: Any, session: Any, form: Any
) -> Response:
    viewer, context = who.viewer, who.context()
    try:
        job = get_upload(viewer, job_id[:32], session)
        preview = preview_upload(viewer, job.id, settings=settings, session=session)
    except UploadNotFound:
        raise _not_found() from None
    except UploadError as exc:
        return _form_page(request, context, error=str(exc), status=400)
    unit = str(form.get("unit", "")).strip()[:64] or None
    engine = request.app.state.engine
    try:
        mapping = mapping_from_choices(preview, _choices(form, preview), unit)
        with session_scope(engine) as own:  # committed before the import thread reads the job
            start_upload(viewer, job.id, mapping, settings=settings, session=own)
    except UploadError as exc:
        return _preview_page(request, context, job, preview, error=str(exc), status=400)
    _start_thread(request, settings, job.id)
    return RedirectResponse(f"/admin/upload/{job.id}", status_code=303)
