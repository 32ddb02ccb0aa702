"""The upload page under hostile input: nothing is read before the admin check, nothing is written before
the CSRF check, every failed upload leaves nothing on disk, and hostile workbooks answer 400 with a
sentence (issue 23, defects 3 and 7).

Before: a 200 MB multipart post to ``/admin/upload`` without a login was read whole (and spooled to the
system's temporary directory) before the redirect; random-byte, malformed, billion-laughs and XXE workbooks
answered 500 and left their files in ``<data dir>/uploads``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxloop.web.app import create_app
from support import hostile_xlsx
from support.asgi_body import call, multipart_body
from support.export_samples import ADMIN, MANAGER, csv_text, qualtrics_numeric_rows, qualtrics_rows_table

MB = 1 << 20
BOUNDARY = "cxloop-test-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def log_in(client: TestClient, email: str) -> None:
    from support.export_samples import PASSWORD

    client.cookies.clear()
    form = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf(form.text)}
    )
    assert response.status_code in (200, 303), response.text


def upload(client: TestClient, name: str, data: bytes):
    token = csrf(client.get("/admin/upload").text)
    return client.post(
        "/admin/upload", data={"csrf_token": token}, files={"file": (name, data)}, follow_redirects=False
    )


def stored(data_dir: Path) -> list[Path]:
    """Every file under the uploads folder."""
    return [p for p in (data_dir / "uploads").rglob("*") if p.is_file()]


def cookie_header(client: TestClient) -> dict[str, str]:
    return {"cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items())}


# --- who may make the server read ---------------------------------------------------------------------


def test_an_upload_without_a_login_is_answered_unread_and_stores_nothing(upload_client, upload_world) -> None:
    body = multipart_body(BOUNDARY, {"csrf_token": "0" * 64}, "big.csv", 200 * MB)
    answer = call(upload_client.app, "POST", "/admin/upload", body, MULTIPART)
    assert answer.status == 303 and answer.headers["location"] == "/login"
    assert answer.consumed == 0
    assert stored(upload_world.settings.data_dir) == []


def test_a_user_who_is_not_an_admin_is_answered_unread(upload_client, upload_world) -> None:
    log_in(upload_client, MANAGER)
    body = multipart_body(BOUNDARY, {"csrf_token": "0" * 64}, "big.csv", 50 * MB)
    answer = call(
        upload_client.app, "POST", "/admin/upload", body, {**MULTIPART, **cookie_header(upload_client)}
    )
    assert answer.status == 404 and answer.consumed == 0
    assert stored(upload_world.settings.data_dir) == []


def test_a_forged_form_writes_nothing_and_reads_no_further_than_the_file(upload_client, upload_world) -> None:
    log_in(upload_client, ADMIN)
    body = multipart_body(BOUNDARY, {"csrf_token": "0" * 64}, "big.csv", 50 * MB)
    answer = call(
        upload_client.app, "POST", "/admin/upload", body, {**MULTIPART, **cookie_header(upload_client)}
    )
    assert answer.status == 403 and "The form expired" in answer.text
    assert answer.consumed <= 2 * MB  # the fields and the file's first piece, not its 50 MB
    assert not (upload_world.settings.data_dir / "uploads").exists()


# --- what is too big ----------------------------------------------------------------------------------


@pytest.fixture
def small_limits(upload_world):
    settings = upload_world.settings.model_copy(
        update={"max_upload_bytes": 256 << 10, "uploads_quota_bytes": 400 << 10}
    )
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client, settings


def test_an_upload_over_its_limit_is_cut_off_and_removed(small_limits) -> None:
    client, settings = small_limits
    log_in(client, ADMIN)
    headers = {**MULTIPART, **cookie_header(client)}
    token = csrf(client.get("/admin/upload").text)
    answer = call(
        client.app,
        "POST",
        "/admin/upload",
        multipart_body(BOUNDARY, {"csrf_token": token}, "big.csv", 20 * MB, 64 << 10),
        headers,
    )
    assert answer.status == 413 and "CXLOOP_MAX_UPLOAD_BYTES" in answer.text
    assert answer.consumed <= settings.max_upload_bytes + (64 << 10)
    declared = call(
        client.app,
        "POST",
        "/admin/upload",
        iter([b"x"]),
        headers,
        content_length=settings.max_upload_bytes + 1,
    )
    assert declared.status == 413 and declared.consumed == 0
    assert stored(settings.data_dir) == []


def test_the_uploads_folder_has_a_quota(small_limits) -> None:
    client, settings = small_limits
    log_in(client, ADMIN)
    export = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode()
    filler = export + b"\n" * (200 << 10)  # a valid export of ~200 KB (blank lines are skipped)
    assert upload(client, "first.csv", filler).status_code == 303
    kept = stored(settings.data_dir)
    second = upload(client, "second.csv", filler)  # 200 KB more would pass the 400 KB quota
    assert second.status_code == 413 and "uploads folder is full" in second.text
    assert "CXLOOP_UPLOADS_QUOTA_BYTES" in second.text
    assert stored(settings.data_dir) == kept  # the first upload is kept, nothing of the second


# --- what cannot be read ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (hostile_xlsx.random_bytes, "is not an Excel workbook (.xlsx): it is not a zip archive"),
        (hostile_xlsx.truncated_zip, "is not an Excel workbook (.xlsx): it is not a zip archive"),
        (hostile_xlsx.malformed_zip, "is not a readable Excel workbook"),
        (hostile_xlsx.billion_laughs, "is not a readable Excel workbook (EntitiesForbidden"),
        (hostile_xlsx.xxe, "is not a readable Excel workbook (EntitiesForbidden"),
        (lambda: hostile_xlsx.shared_strings_bomb(33), "its part xl/sharedStrings.xml unpacks to 33 MB"),
        (hostile_xlsx.zip64_parts, "has more parts than a workbook has"),
    ],
    ids=["random-bytes", "truncated", "malformed", "billion-laughs", "xxe", "shared-strings-bomb", "zip64"],
)
def test_a_hostile_workbook_gets_a_400_with_a_sentence_and_leaves_nothing(
    upload_client, upload_world, build, message
) -> None:
    log_in(upload_client, ADMIN)
    response = upload(upload_client, "export.xlsx", build())
    assert response.status_code == 400, response.text
    assert message in response.text.replace("&#39;", "'")
    assert stored(upload_world.settings.data_dir) == []


def test_a_file_that_is_no_export_leaves_nothing(upload_client, upload_world) -> None:
    log_in(upload_client, ADMIN)
    response = upload(upload_client, "plain.csv", b"a,b\n1,2\n")
    assert response.status_code == 400 and "does not look like a Qualtrics" in response.text
    assert stored(upload_world.settings.data_dir) == []
