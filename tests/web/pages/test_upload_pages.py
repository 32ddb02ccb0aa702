"""The admin upload page through the web test client: upload, preview, adjust, import, report."""

from __future__ import annotations

import re
import time

from cxloop.warehouse.connection import connect
from support.export_samples import (
    ADMIN,
    BRANCH_ADMIN,
    MANAGER,
    PASSWORD,
    SURVEYMONKEY_SUB,
    SURVEYMONKEY_TOP,
    csv_text,
    qualtrics_numeric_rows,
    qualtrics_rows_table,
    surveymonkey_rows,
)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def log_in(client, email: str) -> None:
    client.cookies.clear()
    form = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf(form.text)}
    )
    assert response.status_code in (200, 303), response.text


def upload(client, name: str, data: bytes, **fields: str):
    token = csrf(client.get("/admin/upload").text)
    return client.post(
        "/admin/upload",
        data={"csrf_token": token, **fields},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )


def form_fields(html: str) -> dict[str, str]:
    """The mapping form's current values, as the browser would post them."""
    fields = dict(re.findall(r'<input name="((?:item|low|high)_\d+)" value="([^"]*)"', html))
    for name, body in re.findall(r'<select name="(role_\d+)"[^>]*>(.*?)</select>', html, re.S):
        fields[name] = re.search(r'<option value="([a-z_]+)" selected', body).group(1)
    fields["unit"] = re.search(r'id="unit" name="unit" value="([^"]*)"', html).group(1)
    fields["csrf_token"] = csrf(html)
    return fields


def wait_for(client, job: str) -> dict:
    for _ in range(600):
        status = client.get(f"/admin/upload/{job}/status").json()
        if status["status"] in {"done", "failed"}:
            return status
        time.sleep(0.1)
    raise AssertionError(f"upload {job} still {status}")


def test_admin_uploads_previews_adjusts_and_imports(upload_client, upload_world) -> None:
    client = upload_client
    log_in(client, ADMIN)
    data = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode("utf-16")
    response = upload(client, "export.csv", data)
    assert response.status_code == 303
    job = response.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/admin/upload/{job}")
    assert page.status_code == 200
    assert "Qualtrics export (csv, UTF-16)" in page.text and "recognised from the file's shape" in page.text
    assert "the_staff_were_friendly" in page.text and "Friendly staff, très bien" in page.text
    fields = form_fields(page.text)
    index = {c: i for i, c in enumerate(re.findall(r'data-column="([^"]+)"', page.text))}
    # The person adjusts: the matrix item gets a shorter name, the app rating is left out
    fields[f"item_{index['Q2_1']}"] = "staff"
    fields[f"role_{index['Q6']}"] = "ignored"
    done = client.post(f"/admin/upload/{job}/import", data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text
    status = wait_for(client, job)
    assert status["status"] == "done", status
    summary = status["summary"]
    assert (summary["accepted"], summary["rejected"], summary["detected_format"]) == (3, 1, "qualtrics")
    assert summary["problems"][0]["row"] == 5 and summary["problems"][0]["column"] == "Q1"
    report = client.get(f"/admin/upload/{job}")
    assert 'id="accepted">3<' in report.text and "out of range: nps must be 0 to 10" in report.text
    con = connect(upload_world.settings)  # the app's own configuration (it has the file open)
    try:
        items = set(con.table("answers").item.to_pyarrow().to_pylist())
    finally:
        con.disconnect()
    assert "staff" in items and "q6" not in items and "the_staff_were_friendly" not in items


def test_a_wrong_choice_is_shown_on_the_form(upload_client) -> None:
    client = upload_client
    log_in(client, ADMIN)
    data = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode("utf-8")
    job = upload(client, "export.csv", data).headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/admin/upload/{job}")
    fields = form_fields(page.text)
    index = {c: i for i, c in enumerate(re.findall(r'data-column="([^"]+)"', page.text))}
    fields[f"role_{index['Q3']}"] = "nps"  # now two NPS columns
    response = client.post(f"/admin/upload/{job}/import", data=fields)
    assert response.status_code == 400 and "are nps: keep one" in response.text
    forged = client.post(f"/admin/upload/{job}/import", data={**fields, "csrf_token": "0" * 64})
    assert forged.status_code == 403


def test_bad_files_and_escaping(upload_client) -> None:
    client = upload_client
    log_in(client, ADMIN)
    not_an_export = upload(client, "plain.csv", b"a,b\n1,2\n")
    assert not_an_export.status_code == 400 and "does not look like a Qualtrics" in not_an_export.text
    wrong_type = upload(client, "export.pdf", b"%PDF")
    assert wrong_type.status_code == 400 and ".xlsx" in wrong_type.text
    rows = surveymonkey_rows()
    rows[0][16] = "<script>alert(1)</script>"
    job = upload(client, "sm.csv", csv_text([SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *rows]).encode())
    page = client.get(job.headers["location"])
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )


def test_only_admins_and_a_branch_admin_only_for_their_unit(upload_client) -> None:
    client = upload_client
    log_in(client, MANAGER)
    assert client.get("/admin/upload").status_code == 404
    client.cookies.clear()
    assert client.get("/admin/upload", follow_redirects=False).status_code == 303  # to the login
    log_in(client, BRANCH_ADMIN)
    data = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode()
    job = upload(client, "export.csv", data).headers["location"].rsplit("/", 1)[1]
    fields = form_fields(client.get(f"/admin/upload/{job}").text)
    refused = client.post(f"/admin/upload/{job}/import", data=fields)  # the file names its units
    assert refused.status_code == 400 and "one unit of your part" in refused.text
    fields["unit"] = "b02"
    assert client.post(f"/admin/upload/{job}/import", data=fields, follow_redirects=False).status_code == 303
    status = wait_for(client, job)
    # an admin of part of the organisation names only what the catalogue holds (issue 23): every row
    # answers driver items no admin of the whole organisation has added yet, so each is quarantined
    assert status["status"] == "done" and status["summary"]["accepted"] == 0
    reasons = [p["reason"] for p in status["summary"]["problems"]]
    assert any(r.startswith("unknown item") and "only an admin of the whole" in r for r in reasons)
    log_in(client, ADMIN)
    assert client.get(f"/admin/upload/{job}").status_code == 200  # the root admin sees every upload
    assert client.get("/admin/upload/nosuchjob").status_code == 404


def test_a_stalled_import_can_be_started_again(upload_client, upload_world) -> None:
    from datetime import UTC, datetime, timedelta

    from cxloop.store.db import engine_for, session_scope
    from cxloop.store.tables import UploadJob

    client = upload_client
    log_in(client, ADMIN)
    data = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode()
    job = upload(client, "export.csv", data).headers["location"].rsplit("/", 1)[1]
    engine = engine_for(upload_world.settings)
    try:  # as a server restart mid-import leaves it: running, no progress for 11 minutes
        with session_scope(engine) as session:
            row = session.get(UploadJob, job)
            row.status, row.updated_at = "running", datetime.now(UTC) - timedelta(minutes=11)
    finally:
        engine.dispose()
    page = client.get(f"/admin/upload/{job}")
    assert 'id="stalled"' in page.text and 'http-equiv="refresh"' not in page.text
    assert client.post(f"/admin/upload/{job}/resume", data={"csrf_token": "0" * 64}).status_code == 403
    resumed = client.post(
        f"/admin/upload/{job}/resume", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert resumed.status_code == 303
    status = wait_for(client, job)
    assert status["status"] == "done" and status["summary"]["accepted"] == 3


def test_admins_find_the_page_in_the_navigation(upload_client) -> None:
    client = upload_client
    log_in(client, ADMIN)
    assert 'href="/admin/upload"' in client.get("/admin/upload").text
    log_in(client, MANAGER)
    home = client.get("/")
    assert home.status_code == 200 and 'href="/admin/upload"' not in home.text


def test_an_admin_undoes_an_upload_from_its_page(upload_client, upload_world) -> None:
    """Issue 21: the job's page has an "Undo this import" button; afterwards the responses are gone and the
    page says so; a second undo is refused with its reason."""
    client = upload_client
    log_in(client, ADMIN)
    data = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode("utf-16")
    job = upload(client, "export.csv", data).headers["location"].rsplit("/", 1)[1]
    fields = form_fields(client.get(f"/admin/upload/{job}").text)
    assert client.post(f"/admin/upload/{job}/import", data=fields, follow_redirects=False).status_code == 303
    assert wait_for(client, job)["status"] == "done"
    page = client.get(f"/admin/upload/{job}")
    assert 'id="undo"' in page.text

    def stored() -> int:
        con = connect(upload_world.settings)
        try:
            return int(con.table("responses").count().to_pyarrow().as_py())
        finally:
            con.disconnect()

    assert stored() == 3
    forged = client.post(f"/admin/upload/{job}/undo", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403 and stored() == 3
    undone = client.post(
        f"/admin/upload/{job}/undo", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert undone.status_code == 303 and stored() == 0
    page = client.get(f"/admin/upload/{job}")
    assert 'id="undone"' in page.text and 'id="undo"' not in page.text
    again = client.post(f"/admin/upload/{job}/undo", data={"csrf_token": csrf(page.text)})
    assert again.status_code == 409 and "undone already" in again.text
    log_in(client, BRANCH_ADMIN)
    token = csrf(client.get("/admin/upload").text)
    other = client.post(f"/admin/upload/{job}/undo", data={"csrf_token": token})
    assert other.status_code == 404  # another admin's upload: not found, as every upload page answers
