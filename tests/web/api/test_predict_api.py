"""The at-risk API and page: scoped like every route (out of scope = 404 like unknown), one service call."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.web.app import create_app

EXECUTIVE = "demo-executive@northwind.example"
BRANCH = "demo-branch@northwind.example"  # manager of br-0001


@pytest.fixture(scope="module")
def client(trained):
    with TestClient(
        create_app(trained.demo.settings), base_url="https://testserver", follow_redirects=False
    ) as c:
        yield c


def _token(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_at_risk_api_is_ordered_and_scoped(client, trained) -> None:
    company = trained.demo.viewer.unit_id
    body = client.get(f"/api/v1/units/{company}/at-risk?limit=10", headers=_token(client, EXECUTIVE)).json()
    lost = [c["expected_value_lost"] for c in body["customers"]]
    assert len(lost) == 10 and lost == sorted(lost, reverse=True)
    assert body["units"] and all(u["customers"] is None or u["customers"] > 0 for u in body["units"])
    branch = _token(client, BRANCH)
    mine = client.get("/api/v1/units/br-0001/at-risk?limit=1000", headers=branch).json()
    assert mine["customers"] and {c["unit_id"] for c in mine["customers"]} == {"br-0001"}
    other = client.get("/api/v1/units/br-0002/at-risk", headers=branch)
    unknown = client.get("/api/v1/units/nowhere/at-risk", headers=branch)
    assert other.status_code == unknown.status_code == 404
    assert client.get(f"/api/v1/units/{company}/at-risk?limit=0", headers=branch).status_code in (404, 422)
    outsider = next(c["customer_id"] for c in body["customers"] if c["unit_id"] != "br-0001")
    assert client.get(f"/api/v1/customers/{outsider}/churn-risk", headers=branch).status_code == 404
    own = mine["customers"][0]["customer_id"]
    explained = client.get(f"/api/v1/customers/{own}/churn-risk", headers=branch)
    assert explained.status_code == 200 and 0 < explained.json()["risk"] < 1


def test_at_risk_page_lists_customers_and_escapes(client) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text).group(1)
    client.post("/login", data={"email": BRANCH, "password": DEMO_PASSWORD, "csrf_token": token})
    page = client.get("/units/br-0001/at-risk")
    assert page.status_code == 200 and "Customers at risk of leaving" in page.text
    assert 'href="/units/br-0001/at-risk"' in page.text  # the navigation link
    assert client.get("/units/br-0002/at-risk").status_code == 404
