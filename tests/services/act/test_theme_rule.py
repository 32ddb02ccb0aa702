"""The ``theme`` alert-rule kind: a comment carrying a codebook theme (optionally said negatively) opens a
case in real time, before any batch tagging, and agrees with what the batch tagging stores later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.realtime import ingest_responses
from cxloop.services.understand.themes import seed_demo_codebook, tag_comments
from cxloop.store.db import session_scope
from cxloop.store.tables import Case

RULES = (alerts.run_on_arrival,)  # the after-store hook the web app gives its importer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ADMIN = "admin@bank.example"


def _rule(world, name, params):
    return world.add_rule(name, "theme", params, now=T0)


def _row(rid, comment, nps=5):
    return {
        "response_id": rid,
        "submitted_at": "2026-11-02T09:00:00Z",
        "unit_id": "b01",
        "nps": nps,
        "comment": comment,
    }


BAD = [
    {},
    {"themes": []},
    {"themes": "  "},
    {"themes": ["high_fees"], "negative_only": "yes"},
    {"themes": ["high_fees"], "sentiment_below": 3},
]


def test_bad_parameters_are_refused_with_a_reason(world):
    for params in BAD:
        with pytest.raises(alerts.RuleError):
            _rule(world, "bad", params)


def test_theme_rule_opens_cases_for_negative_mentions_only(world, warehouse, stores_for):
    with session_scope(world.engine) as session:
        seed_demo_codebook(session)
    rule = _rule(world, "angry about fees", {"themes": ["high_fees"], "negative_only": True})
    _rule(world, "any wait", {"themes": "long_wait"})
    rows = [
        _row("t1", "The fees are outrageous and I hate the charges.", 2),
        _row("t2", "Lovely staff, and the fees are fair and cheap.", 9),  # about fees, not negative
        _row("t3", "The queue was terrible, far too long.", 3),  # a wait, not fees
        _row("t4", "Nothing to say", 7),
        _row("t5", "", 4),
    ]
    result = ingest_responses(
        rows, settings=world.settings, engine=world.engine, con=warehouse, now=T0, after_store=RULES
    )
    assert result.accepted == 5
    with session_scope(world.engine) as session:
        cases = {(c.rule_id, c.response_id): c for c in session.query(Case)}
        fees = [rid for (rid_rule, rid) in cases if rid_rule == rule]
        assert fees == ["t1"]
        case = cases[(rule, "t1")]
        assert "high_fees" in case.title and "negative" in case.title
    waits = sorted(rid for (r, rid) in cases if r != rule)
    assert waits == ["t3"]
    # the batch tagging, run later, stores the same themes the rule saw
    from cxloop.services.access.scope import Viewer

    tag_comments(Viewer(unit_id="bank", role="admin"), stores=stores_for(world.settings, warehouse=warehouse))
    tags = warehouse.table("comment_tags").to_pandas()
    assert set(tags[tags.theme == "high_fees"].response_id) == {"t1", "t2"}
    assert set(tags[tags.theme == "long_wait"].response_id) == {"t3"}


def test_without_a_codebook_the_kind_matches_nothing(world, warehouse):
    _rule(world, "fees", {"themes": ["high_fees"]})
    result = ingest_responses(
        [_row("n1", "The fees are outrageous.", 1)],
        settings=world.settings,
        engine=world.engine,
        con=warehouse,
        now=T0,
        after_store=RULES,
    )
    assert result.accepted == 1 and result.cases_opened == ()
