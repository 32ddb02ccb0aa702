"""The metrics service: scope before any query, suppression in every output, comparisons with known data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import numpy as np
import pytest
from sqlalchemy.orm import Session

from cxloop import stats
from cxloop.config import Settings
from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer, require_unit, visible_units
from cxloop.services.stores import Stores
from cxloop.services.understand.comments import CommentsQuery
from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.services.understand.metrics import MetricsQuery, NoDataError, metrics
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.db import make_engine
from cxloop.store.tables import Role
from cxloop.warehouse.connection import connect_url
from support.warehouse_facts import COMPANY, example_responses, load_warehouse, responses_table


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """The app database with the example company's hierarchy."""
    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(u, p, n, lvl) for u, p, n, lvl in COMPANY])
        session.commit()
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def con():
    con = connect_url("duckdb://")
    load_warehouse(con, example_responses())
    return con


class Untouchable:
    """A warehouse connection that fails the test if anything is asked of it."""

    def __getattr__(self, name):
        raise AssertionError(f"the warehouse was queried ({name}) before scope was checked")


COMPANY_VIEWER = Viewer("acme", Role.executive)
NORTH_VIEWER = Viewer("north", Role.manager)
BRANCH_VIEWER = Viewer("n1", Role.frontline)


# --- scope ----------------------------------------------------------------------------------------------


def test_visible_units_are_the_viewers_subtree(session):
    assert visible_units(session, NORTH_VIEWER) == {"north", "n1", "n2", "n3"}
    assert visible_units(session, BRANCH_VIEWER) == {"n1"}
    assert len(visible_units(session, COMPANY_VIEWER)) == len(COMPANY)


def test_branch_viewer_asking_for_its_region_gets_scope_error_before_any_query(session, settings):
    with pytest.raises(ScopeError, match="outside your scope"):
        metrics(
            BRANCH_VIEWER,
            MetricsQuery(unit="north"),
            stores=Stores(settings=settings, session=session, warehouse=Untouchable()),
        )
    with pytest.raises(ScopeError):
        require_unit(session, NORTH_VIEWER, "s1")


def test_unknown_unit_suggests_nearby_units(session, settings):
    with pytest.raises(UnknownUnitError) as caught:
        metrics(
            NORTH_VIEWER,
            MetricsQuery(unit="nort"),
            stores=Stores(settings=settings, session=session, warehouse=Untouchable()),
        )
    assert caught.value.suggestions[0] == "north"
    with pytest.raises(UnknownUnitError) as caught:
        require_unit(session, NORTH_VIEWER, "zzz-999")
    assert caught.value.suggestions == ["north", "n1", "n2", "n3"]


def test_viewer_for_user(session):
    user = user_store.create_user(session, "Ann@Example.com", "manager", "north")
    viewer = Viewer.for_user(user)
    assert (viewer.unit_id, viewer.role, viewer.user_id) == ("north", Role.manager, user.id)
    assert visible_units(session, viewer) == {"north", "n1", "n2", "n3"}


def test_viewer_whose_unit_is_gone_sees_nothing(session):
    with pytest.raises(ScopeError):
        visible_units(session, Viewer("closed-branch"))


# --- cells, estimates and suppression --------------------------------------------------------------------


def test_cells_carry_estimate_interval_and_n(session, settings, con):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(include="children", grain="quarter"),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    cells = result.cells
    assert set(cells.unit) == {"north", "n1", "n2", "n3"}
    assert set(cells.metric) == {"nps", "csat", "ces"}
    assert cells.period.iloc[0] == "2024-Q1" and cells.period_start.iloc[0] == "2024-01-01"
    assert len(cells) == 4 * 8 * 3  # units x quarters x metrics
    # one cell checked against cxloop.stats on the raw responses
    raw = example_responses().to_pandas()
    q = raw[
        raw.unit_id.isin(["n1", "n2", "n3"])
        & (raw.submitted_at >= "2024-04-01")
        & (raw.submitted_at < "2024-07-01")
    ]
    nps = q.nps[q.nps.between(0, 10)]
    expected = stats.nps((nps <= 6).sum(), nps.between(7, 8).sum(), (nps >= 9).sum(), settings.confidence)
    row = cells[(cells.unit == "north") & (cells.period == "2024-Q2") & (cells.metric == "nps")].iloc[0]
    assert row.n == len(nps)
    assert row.estimate == pytest.approx(expected.score)
    assert (row.ci_low, row.ci_high) == pytest.approx((expected.ci_low, expected.ci_high))
    assert row.ci_low < row.estimate < row.ci_high
    csat = cells[(cells.metric == "csat") & ~cells.suppressed]
    assert ((csat.estimate >= 0) & (csat.estimate <= 100)).all()


def test_small_units_are_suppressed_with_a_partner_and_show_nothing(session, settings, con):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(include="children"),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    cells = result.cells
    hidden = cells[cells.suppressed]
    assert len(hidden) > 0
    assert hidden.n.isna().all() and hidden.estimate.isna().all() and hidden.ci_low.isna().all()
    shown = cells[~cells.suppressed]
    assert (shown.n >= settings.min_n).all()
    # north = n1 + n2 + n3 (nothing filed on north itself): wherever north, n1 and n2 are shown and n3
    # is not, north - n1 - n2 gives n3, so n3 must then be empty.
    n = cells.pivot_table(index=["period", "metric"], columns="unit", values="n", dropna=False)
    hidden_flags = cells.pivot_table(index=["period", "metric"], columns="unit", values="suppressed")
    all_three = n[["north", "n1", "n2"]].notna().all(axis=1) & n.n3.isna()
    assert (n.north[all_three] == n.n1[all_three] + n.n2[all_three]).all()
    # and n3 is hidden somewhere while north is shown, its partner hidden with it
    partnered = hidden_flags[(hidden_flags.n3 == 1) & (hidden_flags.north == 0) & ~all_three]
    assert len(partnered) > 0


def test_suppression_pattern_does_not_depend_on_which_units_are_shown(session, settings, con):
    whole = metrics(
        NORTH_VIEWER,
        MetricsQuery(include="subtree"),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    alone = metrics(
        NORTH_VIEWER,
        MetricsQuery(unit="n2"),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    left = whole.cells[whole.cells.unit == "n2"].reset_index(drop=True)
    assert left.suppressed.tolist() == alone.cells.suppressed.tolist()
    assert left.n.tolist() == alone.cells.n.tolist()


def test_totals_over_the_range_and_breakdowns(session, settings, con):
    result = metrics(
        COMPANY_VIEWER,
        MetricsQuery(
            grain=None, by=("segment",), metrics=("nps",), start=date(2024, 1, 1), end=date(2024, 12, 31)
        ),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    assert set(result.cells.segment.dropna()) == {"gold", "standard"}
    assert (result.cells.period == "2024-01-01..2024-12-31").all()


def test_no_matching_responses_says_what_to_do(session, settings, con):
    query = MetricsQuery(segments={"platinum"})
    with pytest.raises(NoDataError, match="widen"):
        metrics(COMPANY_VIEWER, query, stores=Stores(settings=settings, session=session, warehouse=con))
    empty = connect_url("duckdb://")
    with pytest.raises(NoDataError, match="demo generate"):
        metrics(
            COMPANY_VIEWER, MetricsQuery(), stores=Stores(settings=settings, session=session, warehouse=empty)
        )


# --- comparisons with known data -------------------------------------------------------------------------


def _fixed(rows: list[tuple[str, datetime, float, float, float, int]]):
    unit, when, nps, csat, ces = [], [], [], [], []
    for u, t, n_score, c_score, e_score, count in rows:
        unit += [u] * count
        when += [t] * count
        nps += [n_score] * count
        csat += [c_score] * count
        ces += [e_score] * count
    return responses_table(unit_id=unit, submitted_at=when, nps=nps, csat=csat, ces=ces)


JAN, FEB = datetime(2025, 1, 15), datetime(2025, 2, 15)


@pytest.fixture(scope="module")
def known():
    """n1 jumps from detractors to promoters; n2 stays mixed; s1 and s2 mirror them."""
    rows = []
    for branch in ("n1", "s1"):
        rows += [(branch, JAN, 3.0, 2.0, 2.0, 40), (branch, FEB, 10.0, 5.0, 7.0, 40)]
    for branch in ("n2", "s2"):
        for month in (JAN, FEB):
            rows += [(branch, month, 9.0, 4.0, 5.0, 20), (branch, month, 5.0, 2.0, 3.0, 20)]
    rows += [("n3", JAN, 8.0, 4.0, 6.0, 12), ("n3", FEB, 8.0, 4.0, 6.0, 12)]
    con = connect_url("duckdb://")
    load_warehouse(con, _fixed(rows))
    return con


def _cell(result, unit, period, metric):
    c = result.cells
    return c[(c.unit == unit) & (c.period == period) & (c.metric == metric)].iloc[0]


def test_previous_period_difference_is_flagged_significant(session, settings, known):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(
            include="children", compare=("previous",), start=date(2025, 2, 1), end=date(2025, 2, 28)
        ),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    up = _cell(result, "n1", "2025-02", "nps")
    assert up.estimate == 100 and up.previous_reference == -100 and up.previous_difference == 200
    assert up.previous_significant is True or up.previous_significant == True  # noqa: E712
    flat = _cell(result, "n2", "2025-02", "nps")
    assert flat.previous_difference == 0 and flat.previous_significant == False  # noqa: E712
    ces = _cell(result, "n1", "2025-02", "ces")
    assert ces.previous_difference == pytest.approx(5.0)
    assert "Benjamini-Hochberg" in result.correction
    tested = result.cells.previous_p_value.notna().sum()
    assert f"over {tested} comparisons" in result.correction


def test_parent_and_company_comparisons_test_against_the_rest(session, settings, known):
    result = metrics(
        COMPANY_VIEWER,
        MetricsQuery(unit="n1", compare=("parent", "company"), start=date(2025, 2, 1), end=date(2025, 2, 28)),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    cell = _cell(result, "n1", "2025-02", "nps")
    # north in Feb: n1 40 promoters; n2 20 promoters + 20 detractors; n3 12 passives -> 60 P, 20 D of 92
    north = 100 * (60 - 20) / 92
    assert cell.parent_reference == pytest.approx(north)
    assert cell.parent_difference == pytest.approx(100 - north)
    rest = stats.nps(20, 12, 20)
    unit = stats.nps(0, 0, 40)
    direct = stats.nps_difference(unit, rest)
    assert cell.parent_p_value == pytest.approx(direct.p_value)
    assert cell.parent_difference_se == pytest.approx((1 - 40 / 92) * direct.se)
    assert cell.company_reference == pytest.approx(100 * (120 - 40) / 172)  # + s1 and s2, no n3 twin


def test_scope_limits_comparisons(session, settings, known):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(compare=("parent", "company", "siblings"), metrics=("nps",)),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    row = _cell(result, "north", "2025-02", "nps")
    # The company minus north is one other unit (south): subtracting north's own numbers would reveal it.
    single = (
        "withheld: the rest of the company is a single unit, which subtracting your own numbers would reveal"
    )
    assert row.parent_note == single and np.isnan(row.parent_difference) and np.isnan(row.parent_reference)
    assert row.company_note == single and np.isnan(row.company_reference)
    assert row.siblings_note == "outside your scope"
    top = metrics(
        COMPANY_VIEWER,
        MetricsQuery(compare=("parent",)),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    assert (top.cells.parent_note == "not applicable").all()


def test_siblings_league_has_ranks_and_intervals(session, settings, known):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(
            unit="n2", compare=("siblings",), metrics=("nps",), start=date(2025, 2, 1), end=date(2025, 2, 28)
        ),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    league = result.cells.set_index("unit")
    assert set(league.index) == {"n1", "n2", "n3"}
    assert league.loc["n1", "siblings_rank"] == 1
    assert league.loc["n3", "siblings_rank"] == 2  # NPS 0 vs n2's 0: ties share the rank
    assert league.loc["n2", "siblings_rank"] == 2
    assert (league.siblings_league_size == 3).all()
    # n1 (all promoters) is significantly above both others, so nobody can be above it
    assert league.loc["n1", "siblings_rank_low"] == 1 and league.loc["n1", "siblings_rank_high"] == 1
    assert league.loc["n2", "siblings_rank_low"] == 2
    assert league.loc["n1", "siblings_significant"] == True  # noqa: E712
    assert "rank intervals" in result.correction


def test_target_comparison(session, settings, known):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(
            unit="n2",
            compare=("target",),
            targets={"nps": 0.0, "csat": 20.0},
            start=date(2025, 2, 1),
            end=date(2025, 2, 28),
        ),
        stores=Stores(settings=settings, session=session, warehouse=known),
    )
    nps = _cell(result, "n2", "2025-02", "nps")
    assert nps.target_difference == 0 and nps.target_significant == False  # noqa: E712
    csat = _cell(result, "n2", "2025-02", "csat")
    assert csat.estimate == 50 and csat.target_difference == 30 and csat.target_significant == True  # noqa: E712
    assert _cell(result, "n2", "2025-02", "ces").target_note == "no target set"


def test_json_records_have_the_contract_fields(session, settings, con):
    result = metrics(
        NORTH_VIEWER,
        MetricsQuery(include="children", compare=("previous",)),
        stores=Stores(settings=settings, session=session, warehouse=con),
    )
    records = result.to_records()
    required = {"unit", "period", "metric", "n", "estimate", "se", "ci_low", "ci_high", "suppressed"}
    assert all(required | {"difference", "significant", "comparison"} <= set(r) for r in records)
    hidden = [r for r in records if r["suppressed"]]
    assert hidden and all(
        r["n"] is None and r["estimate"] is None and r["difference"] is None for r in hidden
    )
    import json

    json.dumps(result.to_dict())


def test_query_validation():
    with pytest.raises(ValueError, match="grain"):
        MetricsQuery(grain=None, compare=("previous",))
    with pytest.raises(ValueError, match="compare"):
        MetricsQuery(compare=("yesterday",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="by"):
        MetricsQuery(by=("unit",))


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda v: DashboardFilters(channel=v), id="dashboard-channel"),
        pytest.param(lambda v: DashboardFilters(touchpoint=v), id="dashboard-touchpoint"),
        pytest.param(lambda v: MetricsQuery(unit="bank", segments=frozenset({v})), id="metrics-segments"),
        pytest.param(lambda v: CommentsQuery(q=v), id="comment-search"),
        pytest.param(lambda v: CommentsQuery(themes=frozenset({v})), id="comment-themes"),
    ],
)
def test_a_control_character_in_a_filter_is_refused_before_any_query(build):
    # A ValueError (422 on the web, a message on the command line): written into SQL text, a NUL made the
    # engine's parser fail (issue 23).
    with pytest.raises(ValueError, match=r"holds a control character \(U\+0000\)"):
        build("a\x00b")


# --- benchmarks above the viewer's scope (services/understand/benchmarks.py) -----------------------------


def _leaked(result, outside: set[str]) -> list[str]:
    """Ids or names of units outside the viewer's subtree anywhere in the JSON of ``result``."""
    import json

    text = json.dumps(result.to_dict())
    names = {u: n for u, _, n, _ in COMPANY}
    return [u for u in sorted(outside) if f'"{u}"' in text or f'"{names[u]}"' in text]


def test_a_branch_sees_its_parent_and_company_as_aggregates_named_by_level(session, settings, known):
    """n1's manager sees north and the company as the executive sees them for n1, and nothing else of them."""
    ask = MetricsQuery(
        unit="n1",
        compare=("parent", "company"),
        metrics=("nps",),
        start=date(2025, 2, 1),
        end=date(2025, 2, 28),
    )
    mine = metrics(BRANCH_VIEWER, ask, stores=Stores(settings=settings, session=session, warehouse=known))
    top = metrics(COMPANY_VIEWER, ask, stores=Stores(settings=settings, session=session, warehouse=known))
    row, truth = _cell(mine, "n1", "2025-02", "nps"), _cell(top, "n1", "2025-02", "nps")
    for name in ("parent", "company"):
        for field in ("reference", "difference", "difference_se", "p_value"):
            assert row[f"{name}_{field}"] == pytest.approx(truth[f"{name}_{field}"]), (name, field)
        assert not np.isnan(row[f"{name}_reference"])
    assert _leaked(mine, {u for u, *_ in COMPANY} - {"n1"}) == []
    assert any("rest of the group" in note for note in mine.notes)


def test_the_two_children_subtraction_case_is_refused(session, settings, known):
    """With n3 under the threshold, north minus n1 is n2 alone: the parent comparison is withheld, the
    company (n2 and south besides n1) is not."""
    strict = settings.model_copy(update={"min_n": 13})
    ask = MetricsQuery(
        unit="n1",
        compare=("parent", "company"),
        metrics=("nps",),
        start=date(2025, 2, 1),
        end=date(2025, 2, 28),
    )
    row = _cell(
        metrics(BRANCH_VIEWER, ask, stores=Stores(settings=strict, session=session, warehouse=known)),
        "n1",
        "2025-02",
        "nps",
    )
    assert np.isnan(row.parent_reference) and np.isnan(row.parent_difference)
    assert row.parent_note.startswith("withheld: the rest of your region is a single unit")
    assert not np.isnan(row.company_reference) and row.company_note is None


def test_peers_give_median_top_quartile_and_rank_without_names(session, settings, known):
    branches = ["n1", "n2", "n3", "s1", "s2"]
    ask = MetricsQuery(
        unit="n1", compare=("peers",), metrics=("nps",), start=date(2025, 2, 1), end=date(2025, 2, 28)
    )
    mine = metrics(BRANCH_VIEWER, ask, stores=Stores(settings=settings, session=session, warehouse=known))
    every = metrics(
        COMPANY_VIEWER,
        MetricsQuery(
            unit="acme", include="subtree", metrics=("nps",), start=date(2025, 2, 1), end=date(2025, 2, 28)
        ),
        stores=Stores(settings=settings, session=session, warehouse=known),
    ).cells
    estimates = every[every.unit.isin(branches)].set_index("unit").estimate
    row = mine.to_records()[0]
    assert row["comparison"] == "peers"
    assert row["median"] == pytest.approx(np.median(estimates)) == pytest.approx(row["reference"])
    assert row["top_quartile"] == pytest.approx(np.percentile(estimates, 75))
    assert row["rank"] == 1 + int((estimates > estimates["n1"]).sum())
    assert row["league_size"] == 5 and row["rank_low"] <= row["rank"] <= row["rank_high"]
    assert row["difference"] == pytest.approx(estimates["n1"] - np.median(estimates))
    assert _leaked(mine, {u for u, *_ in COMPANY} - {"n1"}) == []

    fewer = settings.model_copy(update={"min_peers": 6})
    row = metrics(
        BRANCH_VIEWER, ask, stores=Stores(settings=fewer, session=session, warehouse=known)
    ).to_records()[0]
    assert row["note"] == "withheld: fewer than 6 branches in the company with at least 5 responses"
    assert row["reference"] is None and row["rank"] is None and row["top_quartile"] is None
