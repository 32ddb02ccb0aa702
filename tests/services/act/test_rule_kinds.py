"""The alert-rule kinds are one explicit list: complete whatever a process imports first, and a stored rule of
a kind this version does not know is reported, not skipped without a word."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import pkgutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

import cxloop.services.act.rules as rules_package
from cxloop.services.act.rules import engine as alerts
from cxloop.services.act.rules.kind import RuleKind
from cxloop.services.act.rules.kinds import KINDS
from cxloop.services.listen.realtime import ingest_responses
from cxloop.store.db import session_scope
from cxloop.store.tables import AlertRule, Case
from support.cases_world import World

RULES = (alerts.run_on_arrival,)  # the after-store hook the web app gives its importer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EVERY_KIND = [
    "ces_at_least",
    "ces_at_most",
    "comment_keywords",
    "csat_at_most",
    "detractor_in_top_value_tier",
    "nps_at_most",
    "theme",
    "unit_score_drop",
    "churn_risk",
]

# Imported first in a fresh interpreter; then the registry the rule engine reads is printed.
_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
loaded_act = sorted(m for m in sys.modules if m.startswith("cxloop.services.act"))
from cxloop.services.act.rules import engine, kinds
assert engine.KINDS is kinds.KINDS
print(json.dumps({"kinds": sorted(engine.KINDS), "act_loaded_first": loaded_act}))
"""


@functools.cache
def _fresh(first: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, first], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first", ["cxloop.services", "cxloop.services.listen.realtime"])
def test_a_fresh_process_has_every_kind_after_importing_only_services(first: str) -> None:
    assert _fresh(first)["kinds"] == sorted(EVERY_KIND)


@pytest.mark.slow  # a fresh interpreter each
@pytest.mark.parametrize(
    "first",
    [
        "cxloop.services.act.rules.engine",
        "cxloop.services.act.rules.theme",
        "cxloop.services.act.rules.churn_risk",
        "cxloop.services.act.rules.churn_outreach",
        "cxloop.services.act.cases",
        "cxloop.web.app",
    ],
)
def test_the_kinds_are_the_same_whatever_is_imported_first(first: str) -> None:
    assert _fresh(first)["kinds"] == sorted(EVERY_KIND) == sorted(KINDS)


def test_ingestion_does_not_load_the_act_domain() -> None:
    assert _fresh("cxloop.services.listen.realtime")["act_loaded_first"] == []


def test_every_kind_defined_under_rules_is_listed() -> None:
    defined = {}
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, RuleKind):
                defined[value.name] = value
    assert defined == dict(KINDS)
    assert sorted(KINDS) == sorted(EVERY_KIND)


def test_the_registry_cannot_be_filled_from_outside() -> None:
    with pytest.raises(TypeError):
        KINDS["mine"] = KINDS["nps_at_most"]  # type: ignore[index]


def _post_detractor(world: World, con, hooks=RULES):
    row = {"response_id": "r1", "submitted_at": "2026-11-02T09:00:00Z", "unit_id": "b01", "nps": 2}
    return ingest_responses(
        [row], settings=world.settings, engine=world.engine, con=con, now=T0, after_store=hooks
    )


def test_a_rule_of_an_unknown_kind_is_logged_and_reported(world, warehouse, caplog):
    world.add_rule("detractors", "nps_at_most", {"threshold": 6}, now=T0)
    retired = world.add_rule("retired", "comment_keywords", {"keywords": ["fraud"]}, now=T0)
    with session_scope(world.engine) as session:  # as a newer or older version would have left it
        session.execute(update(AlertRule).where(AlertRule.id == retired).values(kind="retired_kind"))

    with caplog.at_level(logging.WARNING, logger=alerts.__name__):
        result = _post_detractor(world, warehouse)
    assert len(result.cases_opened) == 1  # the other rules still run
    note = f"alert rule 'retired' (id {retired}) was not run: unknown kind 'retired_kind'"
    assert any(n.startswith(note) for n in result.to_dict()["notes"])
    assert any(note in record.getMessage() for record in caplog.records)

    with session_scope(world.engine) as session:
        responses = alerts.load_responses(warehouse, ["r1"])
        run = alerts.run_rules(session, warehouse, responses, now=T0)
        assert session.query(Case).count() == 1
    assert [(s.rule_id, s.name, s.kind) for s in run.skipped] == [(retired, "retired", "retired_kind")]
    assert (run.evaluated, run.matched, run.opened, run.existing) == (1, 1, (), 1)


def test_without_unknown_kinds_nothing_is_skipped_or_noted(world, warehouse):
    world.add_rule("detractors", "nps_at_most", {"threshold": 6}, now=T0)
    result = _post_detractor(world, warehouse)
    assert len(result.cases_opened) == 1 and result.notes == ()


def test_without_hooks_ingestion_stores_and_opens_nothing(world, warehouse):
    world.add_rule("detractors", "nps_at_most", {"threshold": 6}, now=T0)
    result = _post_detractor(world, warehouse, hooks=())
    assert result.accepted == 1 and result.cases_opened == ()
    with session_scope(world.engine) as session:
        assert session.query(Case).count() == 0


def test_without_an_importer_the_hooks_must_be_named(world, warehouse):
    """A script that leaves the rules out by omission is told, before anything is stored."""
    world.add_rule("detractors", "nps_at_most", {"threshold": 6}, now=T0)
    row = {"response_id": "r1", "submitted_at": "2026-11-02T09:00:00Z", "unit_id": "b01", "nps": 2}
    with pytest.raises(TypeError, match="run_on_arrival"):
        ingest_responses([row], settings=world.settings, engine=world.engine, con=warehouse, now=T0)
    stored = warehouse.table("responses").count().execute() if "responses" in warehouse.list_tables() else 0
    assert stored == 0
    assert _post_detractor(world, warehouse).accepted == 1  # named, the same row is stored
