"""Closing the loop on outcomes (recovery with Wilson, repurchase contacted vs not with Newcombe, checked
against Newcombe's published example) and the `cxloop cases` command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.services.act import cases as svc
from cxloop.services.act import recovery as outcomes
from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.imports import import_file
from cxloop.services.listen.realtime import ingest_responses
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.store.tables import Case
from cxloop.warehouse.connection import connect
from support.cases_world import World

RULES = (alerts.run_on_arrival,)  # the after-store hook the web app gives its importer

DAY0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _rule(world: World) -> None:
    with session_scope(world.engine) as session:
        alerts.create_rule(
            session,
            world.viewer("admin@bank.example"),
            name="detractors",
            kind="nps_at_most",
            actor=audit.Actor.system("test"),
            now=DAY0,
        )


def test_recovery_and_repurchase_of_contacted_vs_not(web_world, tmp_path):
    """Newcombe (1998) example: 56/70 vs 48/80 -> difference 0.2000, 95% CI 0.0524 to 0.3339 (method 10)."""
    _rule(web_world)
    settings = web_world.settings
    contacted = [f"k{i:02d}" for i in range(70)]
    others = [f"o{i:02d}" for i in range(80)]
    rows = [
        {
            "response_id": f"r-{c}",
            "submitted_at": "2026-06-01T12:00:00Z",
            "unit_id": "b01",
            "nps": 3,
            "customer_id": c,
        }
        for c in contacted + others
    ]
    # A follow-up survey from k20 after the contact (NPS 9 > 3): counts as recovered without a recorded score.
    rows.append(
        {
            "response_id": "later-k20",
            "submitted_at": "2026-07-01T12:00:00Z",
            "unit_id": "b01",
            "nps": 9,
            "customer_id": "k20",
        }
    )
    con = connect(settings)
    try:
        ingest_responses(
            rows, settings=settings, engine=web_world.engine, con=con, now=DAY0, after_store=RULES
        )
    finally:
        con.disconnect()
    buyers = contacted[:56] + others[:48]
    tx = ["transaction_id,customer_id,occurred_at,amount"]
    tx += [f"t-{c},{c},2026-07-15T10:00:00Z,120" for c in buyers]
    tx += [f"late-{c},{c},2026-10-20T10:00:00Z,50" for c in others[48:60]]  # after the 90-day window
    tx.append("last,zz,2026-11-01T00:00:00Z,10")
    (tmp_path / "tx.csv").write_text("\n".join(tx) + "\n", encoding="utf-8")
    assert import_file("transactions", tmp_path / "tx.csv", settings=settings).accepted == len(tx) - 1

    branch = web_world.viewer("branch1@bank.example")
    actor = audit.Actor.user(branch.user_id, "branch1@bank.example")
    with session_scope(web_world.engine) as session:
        by_customer = {c.customer_id: c.id for c in session.query(Case)}
        for i, customer in enumerate(contacted):
            score = None
            if i < 20:
                score = 8.0 if i < 15 else 2.0  # 15 of 20 improved
            svc.transition(
                session,
                branch,
                by_customer[customer],
                "contacted",
                actor=actor,
                follow_up_score=score,
                now=DAY0 + timedelta(days=1),
            )
    con = connect(settings)
    try:
        with session_scope(web_world.engine) as session:
            result = outcomes.loop_outcomes(
                session, web_world.viewer("region@bank.example"), con, window_days=90
            )
            assert (
                outcomes.loop_outcomes(session, web_world.viewer("frontline2@bank.example"), con).recovery.n
                == 0
            )
    finally:
        con.disconnect()
    assert (result.recovery.successes, result.recovery.n) == (16, 21)
    assert result.recovery.ci_low == pytest.approx(0.5487, abs=5e-4)  # Wilson 16/21
    assert result.recovery.ci_high == pytest.approx(0.8935, abs=5e-4)
    assert (result.contacted.successes, result.contacted.n) == (56, 70)
    assert (result.not_contacted.successes, result.not_contacted.n) == (48, 80)
    assert result.difference == pytest.approx(0.2)
    assert result.difference_ci[0] == pytest.approx(0.0524, abs=1e-4)
    assert result.difference_ci[1] == pytest.approx(0.3339, abs=1e-4)
    assert "Observational" in result.caveat


@pytest.fixture
def cli_env(web_world, monkeypatch):
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(web_world.settings.data_dir))
    monkeypatch.setenv("CXLOOP_ENVIRONMENT", "test")
    monkeypatch.setenv("CXLOOP_SECRET_KEY", "t-" + "s" * 40)
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CXLOOP_WAREHOUSE_URL", raising=False)
    return web_world


def _cli(*args: str):
    return CliRunner().invoke(app, ["cases", *args])


def test_cases_command_line(cli_env):
    world = cli_env
    added = _cli(
        "rules",
        "add",
        "detractors",
        "--kind",
        "nps_at_most",
        "--params",
        '{"threshold": 6}',
        "--first-contact-hours",
        "2",
        "--resolution-hours",
        "24",
    )
    assert added.exit_code == 0, added.output
    bad = _cli("rules", "add", "x", "--kind", "nps_below")
    assert bad.exit_code == 1 and "unknown rule kind" in bad.output
    listed = json.loads(_cli("rules", "list", "--json").output)
    assert [(r["name"], r["params"], r["active"]) for r in listed] == [
        ("detractors", {"threshold": 6.0}, True)
    ]
    assert _cli("owner", "b01", "frontline1@bank.example").exit_code == 0

    con = connect(world.settings)
    try:
        row = {"response_id": "cli-1", "submitted_at": "2026-11-20T10:00:00Z", "unit_id": "b01", "nps": 0}
        ingest_responses([row], settings=world.settings, engine=world.engine, con=con, after_store=RULES)
    finally:
        con.disconnect()
    cases = json.loads(_cli("list", "--json", "--as", "frontline1@bank.example", "--mine").output)
    assert [c["owner"] for c in cases["cases"]] == ["frontline1@bank.example"]
    case_id = cases["cases"][0]["id"]
    assert json.loads(_cli("list", "--json", "--as", "frontline2@bank.example").output)["total"] == 0
    hidden = _cli("show", str(case_id), "--as", "frontline2@bank.example")
    assert hidden.exit_code == 1 and "no case" in hidden.output

    escalated = json.loads(_cli("escalate", "--now", "2099-01-01T00:00:00Z", "--json").output)
    assert escalated["escalated"] == [case_id]
    shown = json.loads(_cli("show", str(case_id), "--json").output)
    assert shown["owner"] == "region@bank.example"  # b01's owner is frontline1; the next owner up is north's
    assert [e["action"] for e in shown["trail"]] == ["open", "escalate"]
    refused = _cli("move", str(case_id), "closed", "--as", "region@bank.example")
    assert refused.exit_code == 1 and "Root-cause codes: staff_behaviour" in refused.output
    closed = _cli(
        "move",
        str(case_id),
        "closed",
        "--as",
        "region@bank.example",
        "--root-cause",
        "process",
        "--resolution",
        "Refunded",
    )
    assert closed.exit_code == 0, closed.output
    assert _cli("rules", "disable", "detractors").exit_code == 0
    assert json.loads(_cli("rules", "list", "--json").output)[0]["active"] is False
    assert "Closed-loop cases" in CliRunner().invoke(app, ["cases", "--help"]).output
