"""Alert rules -> cases -> workflow -> SLA breach and escalation, with a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.services.act import cases as svc
from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.realtime import ingest_responses
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.store.tables import Case, CaseStatus, Segment
from support.cases_world import World, user_email

RULES = (alerts.run_on_arrival,)  # the after-store hook the web app gives its importer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ADMIN = "admin@bank.example"


def _response(rid: str, unit: str, nps: float | None, *, at: datetime = T0, **extra) -> dict:
    row = {"response_id": rid, "submitted_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "unit_id": unit, "nps": nps}
    row.update(extra)
    return row


def _rule(world: World, name: str, kind: str, params: dict | None = None, **kw) -> int:
    return world.add_rule(name, kind, params, now=T0, **kw)


def _post(world: World, con, rows: list[dict], now: datetime = T0):
    return ingest_responses(
        rows, settings=world.settings, engine=world.engine, con=con, now=now, after_store=RULES
    )


def _cases(world: World) -> list[Case]:
    with session_scope(world.engine) as session:
        return list(session.query(Case).order_by(Case.id))


def test_detractor_opens_one_case_for_the_units_owner_and_reposting_opens_none(world, warehouse):
    _rule(world, "detractors", "nps_at_most", {"threshold": 6}, first_contact_hours=24, resolution_hours=72)
    rows = [_response("r1", "b01", 3, customer_id="c1"), _response("r2", "b01", 9), _response("r3", "b02", 6)]
    first = _post(world, warehouse, rows)
    assert (first.accepted, first.duplicates, first.rejected) == (3, 0, 0)
    assert len(first.cases_opened) == 2
    again = _post(world, warehouse, rows)
    assert (again.accepted, again.duplicates, again.cases_opened) == (0, 3, ())
    cases = _cases(world)
    assert [(c.response_id, c.unit_id) for c in cases] == [("r1", "b01"), ("r3", "b02")]
    assert user_email(world, cases[0].owner_user_id) == "branch1@bank.example"
    assert user_email(world, cases[1].owner_user_id) == "branch2@bank.example"
    assert cases[0].customer_id == "c1"
    assert cases[0].status == CaseStatus.new
    assert cases[0].first_contact_due.replace(tzinfo=UTC) == T0 + timedelta(hours=24)
    assert cases[0].resolution_due.replace(tzinfo=UTC) == T0 + timedelta(hours=72)
    with session_scope(world.engine) as session:
        trail = audit.trail(session, "case", cases[0].id)
    assert [e.action for e in trail] == ["open"]
    assert trail[0].actor == "rule:detractors"


def test_full_lifecycle_with_sla_breach_and_escalation(world, warehouse):
    _rule(world, "detractors", "nps_at_most", first_contact_hours=4, resolution_hours=48)
    _post(world, warehouse, [_response("r1", "b01", 2, customer_id="c9", comment="Rude staff")])
    (case,) = _cases(world)
    branch = world.viewer("branch1@bank.example")
    branch_actor = audit.Actor.user(branch.user_id, "branch1@bank.example")

    # Three hours in: nothing is due yet.
    with session_scope(world.engine) as session:
        result = svc.escalate(session, now=T0 + timedelta(hours=3))
    assert result.escalated == ()

    # Five hours in, still new: first contact breached -> the region's owner.
    with session_scope(world.engine) as session:
        result = svc.escalate(session, now=T0 + timedelta(hours=5))
    assert result.escalated == (case.id,)
    (case,) = _cases(world)
    assert user_email(world, case.owner_user_id) == "region@bank.example"
    assert case.escalation_level == 1
    # The same breach does not escalate twice.
    with session_scope(world.engine) as session:
        assert svc.escalate(session, now=T0 + timedelta(hours=6)).escalated == ()

    # The branch manager still sees it (their unit) and works it; the region manager too.
    with session_scope(world.engine) as session:
        svc.transition(session, branch, case.id, "contacted", actor=branch_actor, now=T0 + timedelta(hours=7))
        svc.transition(
            session, branch, case.id, "in_progress", actor=branch_actor, now=T0 + timedelta(hours=8)
        )

    # Past the resolution deadline while in progress -> up again, to the bank's owner.
    with session_scope(world.engine) as session:
        result = svc.escalate(session, now=T0 + timedelta(hours=49))
    assert result.escalated == (case.id,)
    (case,) = _cases(world)
    assert user_email(world, case.owner_user_id) == "ceo@bank.example"
    assert case.escalation_level == 2

    with session_scope(world.engine) as session:
        svc.transition(
            session,
            branch,
            case.id,
            "resolved",
            actor=branch_actor,
            follow_up_score=8,
            now=T0 + timedelta(hours=50),
        )
        with pytest.raises(svc.TransitionError, match="Closing needs a root cause"):
            svc.transition(
                session, branch, case.id, "closed", actor=branch_actor, resolution_note="called back"
            )
        with pytest.raises(svc.TransitionError, match="resolution note"):
            svc.transition(
                session, branch, case.id, "closed", actor=branch_actor, root_cause="staff_behaviour"
            )
        svc.transition(
            session,
            branch,
            case.id,
            "closed",
            actor=branch_actor,
            root_cause="staff_behaviour",
            resolution_note="Apologised, coached the adviser",
            now=T0 + timedelta(hours=51),
        )
        # Reopen, then close again.
        svc.transition(
            session, branch, case.id, "in_progress", actor=branch_actor, now=T0 + timedelta(hours=60)
        )
        svc.transition(session, branch, case.id, "resolved", actor=branch_actor, now=T0 + timedelta(hours=61))
        svc.transition(session, branch, case.id, "closed", actor=branch_actor, now=T0 + timedelta(hours=62))
        trail = audit.trail(session, "case", case.id)
    expected = "open escalate contacted in_progress escalate resolved closed reopen resolved closed"
    assert [e.action for e in trail] == expected.split()
    assert [e.actor for e in trail][:3] == ["rule:detractors", "sla", "branch1@bank.example"]
    assert trail[1].changes["owner_user_id"] == [
        world.users["branch1@bank.example"],
        world.users["region@bank.example"],
    ]
    (case,) = _cases(world)
    assert case.status == CaseStatus.closed
    assert case.reopened_count == 1
    assert case.follow_up_score == 8
    assert case.first_contacted_at.replace(tzinfo=UTC) == T0 + timedelta(hours=7)
    assert case.root_cause == "staff_behaviour"  # kept from the first close


def test_workflow_refuses_moves_it_does_not_allow(world, warehouse):
    _rule(world, "detractors", "nps_at_most")
    _post(world, warehouse, [_response("r1", "b01", 0)])
    (case,) = _cases(world)
    branch = world.viewer("branch1@bank.example")
    actor = audit.Actor.user(branch.user_id, "x")
    with session_scope(world.engine) as session:
        with pytest.raises(svc.TransitionError, match="cannot move to resolved"):
            svc.transition(session, branch, case.id, "resolved", actor=actor)
        with pytest.raises(svc.TransitionError, match="is not a step a case can take"):
            svc.transition(session, branch, case.id, "done", actor=actor)
        with pytest.raises(svc.NotAllowedError):
            svc.transition(session, world.viewer("analyst@bank.example"), case.id, "contacted", actor=actor)


def test_viewers_see_only_their_subtrees_cases(world, warehouse):
    _rule(world, "detractors", "nps_at_most")
    _post(world, warehouse, [_response("r1", "b01", 1), _response("r2", "b02", 1)])
    one, two = _cases(world)
    with session_scope(world.engine) as session:
        seen = {
            email: [c.unit_id for c in svc.list_cases(session, world.viewer(email)).cases]
            for email in ("frontline1@bank.example", "frontline2@bank.example", "region@bank.example")
        }
        with pytest.raises(svc.CaseNotFoundError):
            svc.get_case(session, world.viewer("frontline1@bank.example"), two.id)
        with pytest.raises(svc.CaseNotFoundError):
            svc.transition(
                session,
                world.viewer("frontline1@bank.example"),
                two.id,
                "contacted",
                actor=audit.Actor.system(),
            )
        mine = svc.list_cases(session, world.viewer("branch1@bank.example"), mine=True).cases
    assert seen == {
        "frontline1@bank.example": ["b01"],
        "frontline2@bank.example": ["b02"],
        "region@bank.example": ["b02", "b01"],
    }
    assert [c.id for c in mine] == [one.id]


def test_rule_kinds_keywords_csat_ces_and_value_tier(world, warehouse):
    _rule(world, "words", "comment_keywords", {"keywords": ["Close my account", "fraud"]})
    _rule(world, "csat", "csat_at_most", {"threshold": 2})
    _rule(world, "effort", "ces_at_most", {"threshold": 2})
    _rule(world, "vip", "detractor_in_top_value_tier", {"threshold": 6, "max_rank": 1})
    rows = [
        _response("k1", "b01", 8, comment="I will CLOSE   my account today"),
        _response("k2", "b01", 8, comment="defrauded? no: fraudulent is not a whole-word match"),
        _response("c1", "b01", None, csat=2),
        _response("c2", "b01", None, csat=3),
        _response("e1", "b01", None, ces=1),
        _response("v1", "b01", 5, segment="private"),
        _response("v2", "b01", 5, segment="mass"),
    ]
    _post(world, warehouse, rows[:1])  # registers nothing yet: segments come with the next batch
    _post(world, warehouse, rows[1:])
    with session_scope(world.engine) as session:
        session.get(Segment, "private").value_rank = 1
        session.get(Segment, "mass").value_rank = 3
    _post(
        world,
        warehouse,
        [_response("v3", "b01", 4, segment="private"), _response("v4", "b01", 4, segment="mass")],
    )
    opened = {(c.details["rule"], c.response_id) for c in _cases(world)}
    assert opened == {("words", "k1"), ("csat", "c1"), ("effort", "e1"), ("vip", "v3")}
    (words,) = [c for c in _cases(world) if c.details["rule"] == "words"]
    assert words.details["keywords"] == ["close   my account"]


def test_unit_score_drop_opens_one_case_per_unit_not_per_response(world, warehouse):
    _rule(world, "drop", "unit_score_drop", {"days": 30, "alpha": 0.05, "min_drop": 10})
    now = T0
    before = [_response(f"p{i}", "b01", 10, at=now - timedelta(days=45, minutes=i)) for i in range(40)]
    steady = [_response(f"s{i}", "b02", 9, at=now - timedelta(days=45, minutes=i)) for i in range(40)]
    _post(world, warehouse, before + steady, now=now)
    assert _cases(world) == []  # nothing in the current window yet
    after = [_response(f"n{i}", "b01", 2, at=now - timedelta(days=5, minutes=i)) for i in range(30)]
    after += [_response(f"m{i}", "b02", 9, at=now - timedelta(days=5, minutes=i)) for i in range(30)]
    result = _post(world, warehouse, after, now=now)
    cases = _cases(world)
    assert len(result.cases_opened) == 1
    assert [(c.unit_id, c.response_id) for c in cases] == [("b01", None)]
    assert cases[0].details["nps_before"] == 100.0 and cases[0].details["nps_now"] == -100.0
    assert cases[0].details["p_value"] < 0.001
    assert user_email(world, cases[0].owner_user_id) == "branch1@bank.example"
    # A later detractor in the same period does not open a second unit case.
    _post(
        world,
        warehouse,
        [_response("n99", "b01", 0, at=now - timedelta(days=1))],
        now=now + timedelta(days=1),
    )
    assert [c.subject for c in _cases(world)] == [cases[0].subject]


def test_rules_are_admin_only_validated_and_audited(world):
    admin = world.viewer(ADMIN)
    actor = audit.Actor.user(admin.user_id, ADMIN)
    with session_scope(world.engine) as session:
        with pytest.raises(alerts.NotAllowedError):
            alerts.create_rule(
                session, world.viewer("region@bank.example"), name="x", kind="nps_at_most", actor=actor
            )
        with pytest.raises(alerts.RuleError, match="unknown rule kind"):
            alerts.create_rule(session, admin, name="x", kind="nps_below", actor=actor)
        with pytest.raises(alerts.RuleError, match="threshold"):
            alerts.create_rule(
                session, admin, name="x", kind="nps_at_most", params={"threshold": 11}, actor=actor
            )
        with pytest.raises(alerts.RuleError, match="SLA"):
            alerts.create_rule(
                session,
                admin,
                name="x",
                kind="nps_at_most",
                first_contact_hours=48,
                resolution_hours=24,
                actor=actor,
            )
        rule = alerts.create_rule(session, admin, name="x", kind="nps_at_most", actor=actor)
        alerts.update_rule(session, admin, "x", actor=actor, params={"threshold": 4})
        alerts.disable_rule(session, admin, rule.id, actor=actor)
        trail = audit.trail(session, "rule", rule.id)
        assert [e.action for e in trail] == ["create", "update", "disable"]
        assert trail[1].changes["params"] == ["{'threshold': 6.0}", "{'threshold': 4.0}"]
        assert alerts.list_rules(session, active_only=True) == []


def test_one_open_case_per_response_whatever_rules_match_it(world, warehouse):
    """Regression: one response opened two cases because two rules matched it. Now the first rule's case
    is the response's one open case and the second rule is recorded on it (and in its audit trail)."""
    _rule(world, "detractors", "nps_at_most", {"threshold": 6})
    _rule(world, "words", "comment_keywords", {"keywords": ["queue"]})
    rows = [
        _response("d1", "b01", 2, comment="The queue took   40 minutes and nobody said sorry"),
        _response("d2", "b01", 9, comment="Short queue today"),
    ]
    result = _post(world, warehouse, rows)
    cases = _cases(world)
    assert len(result.cases_opened) == 2 and len(cases) == 2
    (d1,) = [c for c in cases if c.response_id == "d1"]
    assert [r["rule"] for r in d1.details["rules"]] == ["detractors", "words"]
    assert d1.details["rules"][1]["why"] == "comment mentions queue"
    # the title says what happened, where, and quotes the comment (not "NPS 2 (<= 6)")
    with session_scope(world.engine) as session:
        unit_name = session.get(svc.Unit, "b01").name
        trail = audit.trail(session, "case", d1.id)
    assert d1.title == (
        f'Unhappy customer (NPS 2 of 10) at {unit_name}: "The queue took 40 minutes and nobody said sorry"'
    )
    assert [e.action for e in trail] == ["open", "rule_matched"]
