"""The app shell: health without auth, OpenAPI, consistent error bodies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cxloop import __version__
from cxloop.config import Settings
from cxloop.web.app import create_app


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


def test_healthz_needs_no_credentials(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_openapi_documents_the_routes_and_the_docs_page_is_served(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        schema = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    for path in (
        "/healthz",
        "/api/v1/auth/token",
        "/api/v1/units",
        "/api/v1/units/{unit_id}/metrics",
        "/api/v1/units/{unit_id}/drivers",
        "/api/v1/units/{unit_id}/comments",
    ):
        assert path in schema["paths"], path
    assert "ErrorPublic" in schema["components"]["schemas"]


def test_unknown_path_and_wrong_method_have_the_error_body(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        missing = client.get("/api/v1/nowhere")
        missing_page = client.get("/nowhere")
        wrong = client.delete("/healthz")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    # a page address answers a page of the site (issue 17), the API and probes keep the JSON body
    assert missing_page.status_code == 404 and "<h1>Page not found</h1>" in missing_page.text
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"


def test_data_routes_need_credentials(demo):
    for path in ("/api/v1/units", "/api/v1/units/bank/metrics", "/api/v1/units/bank/comments"):
        response = demo.client.get(path)
        assert response.status_code == 401, path
        assert _error(response)["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_forged_token_is_refused(demo):
    response = demo.client.get("/api/v1/units", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401 and _error(response)["code"] == "not_authenticated"


def test_validation_errors_name_the_field_and_reason(demo):
    response = demo.client.get("/api/v1/units?limit=0", headers=demo.as_("demo-executive@northwind.example"))
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert error["fields"][0]["field"] == "limit"
    assert "greater than or equal to 1" in error["fields"][0]["reason"]


def test_bad_dates_and_unknown_options_are_422_not_500(demo):
    headers = demo.as_("demo-executive@northwind.example")
    cases = [
        "/api/v1/units/bank/metrics?from=2025-13-01",
        "/api/v1/units/bank/metrics?by=fortnight",
        "/api/v1/units/bank/metrics?metric=happiness",
        "/api/v1/units/bank/metrics?compare=yesterday",
        "/api/v1/units/bank/metrics?by=total&compare=previous",
        "/api/v1/units/bank/metrics?compare=target",
        "/api/v1/units/bank/metrics?from=2025-06-01&to=2025-01-01",
        "/api/v1/units/bank/drivers?outcome=happiness",
        "/api/v1/units/bank/comments?from=2025-06-01&to=2025-01-01",
        "/api/v1/units/bank/comments?limit=501",
    ]
    for path in cases:
        response = demo.client.get(path, headers=headers)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert _error(response)["code"] in {"validation_error", "bad_request"}, path


def test_page_assets_are_served_from_the_package(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        plotly = client.get("/static/plotly.min.js")
        assert plotly.status_code == 200 and plotly.headers["cache-control"] == "public, max-age=86400"
        for name in ("cxloop.css", "home.js", "dashboard.js", "pilots.js", "themes.js", "programme.css"):
            asset = client.get(f"/static/{name}")
            assert asset.status_code == 200 and asset.headers["cache-control"] == "no-cache", name
            assert asset.headers["content-type"].startswith(
                "text/css" if name.endswith(".css") else "text/java"
            )
        assert client.get("/static/nope.js").status_code == 404
