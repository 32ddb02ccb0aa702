"""The hierarchy repository: validated bulk upserts, materialised paths and subtree queries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cxloop.store.tables import Unit
from cxloop.store.units import (
    HierarchyError,
    UnitRecord,
    UpsertCounts,
    all_units,
    ancestor_ids,
    children_ids,
    existing_unit_ids,
    get_unit,
    set_owner,
    subtree_ids,
    upsert_units,
)
from cxloop.store.users import create_user

BANK = [
    UnitRecord("bank", None, "Bank", "company"),
    UnitRecord("retail", "bank", "Retail", "division"),
    UnitRecord("corporate", "bank", "Corporate", "division"),
    UnitRecord("north", "retail", "North", "region"),
    UnitRecord("south", "retail", "South", "region"),
    UnitRecord("b_01", "north", "Branch 1", "branch"),
    UnitRecord("b_02", "north", "Branch 2", "branch"),
    UnitRecord("b_03", "south", "Branch 3", "branch"),
]


@pytest.fixture
def bank(session):
    upsert_units(session, BANK)
    session.commit()
    return session


def _rows(session) -> dict[str, tuple[str | None, int, str]]:
    return {
        unit_id: (parent_id, depth, path)
        for unit_id, parent_id, depth, path in session.execute(
            select(Unit.unit_id, Unit.parent_id, Unit.depth, Unit.path)
        )
    }


def _problems(session, records) -> list[tuple[str, str]]:
    with pytest.raises(HierarchyError) as caught:
        upsert_units(session, records)
    return caught.value.problems


# --- inserting ------------------------------------------------------------------------------------------


def test_insert_computes_depth_and_path(session):
    counts = upsert_units(session, BANK)
    session.commit()
    assert counts == UpsertCounts(inserted=8, updated=0, unchanged=0)
    rows = _rows(session)
    assert rows["bank"] == (None, 0, "/bank/")
    assert rows["retail"] == ("bank", 1, "/bank/retail/")
    assert rows["north"] == ("retail", 2, "/bank/retail/north/")
    assert rows["b_01"] == ("north", 3, "/bank/retail/north/b_01/")
    assert rows["b_03"] == ("south", 3, "/bank/retail/south/b_03/")


def test_children_may_come_before_their_parents(session):
    counts = upsert_units(session, list(reversed(BANK)))
    session.commit()
    assert counts.inserted == len(BANK)
    assert _rows(session)["b_02"] == ("north", 3, "/bank/retail/north/b_02/")


def test_a_blank_parent_means_the_root(session):
    upsert_units(session, [UnitRecord("bank", "", "Bank", "company")])
    session.commit()
    assert _rows(session)["bank"] == (None, 0, "/bank/")
    assert upsert_units(session, [UnitRecord("bank", " ", "Bank", "company")]).unchanged == 1


def test_new_units_may_hang_below_units_already_stored(bank):
    counts = upsert_units(bank, [UnitRecord("b_04", "south", "Branch 4", "branch")])
    bank.commit()
    assert counts == UpsertCounts(inserted=1, updated=0, unchanged=0)
    assert _rows(bank)["b_04"] == ("south", 3, "/bank/retail/south/b_04/")


def test_empty_records_change_nothing(bank):
    assert upsert_units(bank, []) == UpsertCounts(0, 0, 0)
    assert len(existing_unit_ids(bank)) == len(BANK)


# --- idempotence and updates ----------------------------------------------------------------------------


def test_same_records_twice_leaves_everything_unchanged(bank):
    before = {unit.unit_id: unit.updated_at for unit in all_units(bank)}
    counts = upsert_units(bank, BANK)
    bank.commit()
    assert counts == UpsertCounts(inserted=0, updated=0, unchanged=len(BANK))
    bank.expire_all()
    assert {unit.unit_id: unit.updated_at for unit in all_units(bank)} == before


def test_identical_duplicate_records_are_accepted_once(session):
    counts = upsert_units(session, [*BANK[:2], BANK[1]])
    assert counts == UpsertCounts(inserted=2, updated=0, unchanged=0)


def test_renaming_counts_as_an_update_and_keeps_the_path(bank):
    counts = upsert_units(bank, [UnitRecord("north", "retail", "North & Scotland", "area"), BANK[0]])
    bank.commit()
    assert counts == UpsertCounts(inserted=0, updated=1, unchanged=1)
    unit = get_unit(bank, "north")
    assert (unit.name, unit.level, unit.path) == ("North & Scotland", "area", "/bank/retail/north/")


def test_moving_a_unit_recomputes_its_whole_subtree(bank):
    counts = upsert_units(bank, [UnitRecord("north", "corporate", "North", "region")])
    bank.commit()
    assert counts == UpsertCounts(inserted=0, updated=1, unchanged=0)
    rows = _rows(bank)
    assert rows["north"] == ("corporate", 2, "/bank/corporate/north/")
    assert rows["b_01"] == ("north", 3, "/bank/corporate/north/b_01/")
    assert rows["b_02"] == ("north", 3, "/bank/corporate/north/b_02/")
    assert rows["b_03"] == ("south", 3, "/bank/retail/south/b_03/")  # a sibling's subtree stays put
    assert subtree_ids(bank, "corporate") == {"corporate", "north", "b_01", "b_02"}
    assert subtree_ids(bank, "retail") == {"retail", "south", "b_03"}


def test_moving_a_unit_up_a_level_changes_the_depth_of_its_descendants(bank):
    upsert_units(bank, [UnitRecord("north", "bank", "North", "region")])
    bank.commit()
    rows = _rows(bank)
    assert rows["north"] == ("bank", 1, "/bank/north/")
    assert rows["b_01"] == ("north", 2, "/bank/north/b_01/")


def test_moving_updates_objects_already_loaded_in_the_session(bank):
    leaf = get_unit(bank, "b_01")
    assert leaf.path == "/bank/retail/north/b_01/"
    upsert_units(bank, [UnitRecord("north", "corporate", "North", "region")])
    assert leaf.path == "/bank/corporate/north/b_01/"
    assert leaf.depth == 3


def test_moving_under_a_unit_created_in_the_same_call(bank):
    counts = upsert_units(
        bank,
        [UnitRecord("north", "east", "North", "region"), UnitRecord("east", "bank", "East", "division")],
    )
    bank.commit()
    assert counts == UpsertCounts(inserted=1, updated=1, unchanged=0)
    assert _rows(bank)["b_02"] == ("north", 3, "/bank/east/north/b_02/")


def test_the_root_can_be_replaced_by_a_new_root_above_it(bank):
    upsert_units(
        bank,
        [UnitRecord("group", None, "Group", "holding"), UnitRecord("bank", "group", "Bank", "company")],
    )
    bank.commit()
    rows = _rows(bank)
    assert rows["bank"] == ("group", 1, "/group/bank/")
    assert rows["b_03"] == ("south", 4, "/group/bank/retail/south/b_03/")


# --- every HierarchyError reason, and nothing written ---------------------------------------------------


def test_unknown_parent_is_refused(bank):
    problems = _problems(bank, [UnitRecord("b_09", "west", "Branch 9", "branch")])
    assert problems == [("b_09", "parent 'west' not found in the records or the database")]


def test_cycle_within_the_records_is_refused(session):
    problems = _problems(
        session,
        [
            UnitRecord("root", None, "Root", "company"),
            UnitRecord("a", "b", "A", "x"),
            UnitRecord("b", "a", "B", "x"),
        ],
    )
    assert [unit_id for unit_id, _ in problems] == ["a", "b"]
    assert all(reason.startswith("cycle: ") for _, reason in problems)


def test_cycle_through_stored_units_is_refused(bank):
    # retail would sit below its own grandchild.
    problems = _problems(bank, [UnitRecord("retail", "b_01", "Retail", "division")])
    assert sorted(unit_id for unit_id, _ in problems) == ["b_01", "north", "retail"]
    assert all(reason.startswith("cycle: ") for _, reason in problems)


def test_unit_that_is_its_own_parent_is_refused(bank):
    assert _problems(bank, [UnitRecord("solo", "solo", "Solo", "x")]) == [("solo", "cycle: solo -> solo")]


def test_second_root_is_refused(bank):
    problems = _problems(bank, [UnitRecord("other", None, "Other", "company")])
    assert problems == [("other", "second root: the hierarchy also has root 'bank'")]


def test_two_new_roots_in_one_call_are_both_refused(session):
    problems = _problems(session, [UnitRecord("a", None, "A", "x"), UnitRecord("b", None, "B", "x")])
    assert [unit_id for unit_id, _ in problems] == ["a", "b"]
    assert all(reason.startswith("second root") for _, reason in problems)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (UnitRecord("b_09", "north", "", "branch"), "empty name"),
        (UnitRecord("b_09", "north", "  ", "branch"), "empty name"),
        (UnitRecord("b_09", "north", "Branch 9", ""), "empty level"),
        (UnitRecord("", "north", "Nameless", "branch"), "empty unit_id"),
        (UnitRecord("b/09", "north", "Branch 9", "branch"), "unit_id contains '/'"),
        (UnitRecord("b" * 65, "north", "Branch 9", "branch"), "unit_id longer than 64 characters"),
        (UnitRecord("b_09", "north", "B" * 201, "branch"), "name longer than 200 characters"),
    ],
)
def test_invalid_fields_are_refused(bank, record, reason):
    assert (record.unit_id, reason) in _problems(bank, [record])


def test_conflicting_duplicate_records_are_refused(session):
    problems = _problems(
        session, [UnitRecord("bank", None, "Bank", "company"), UnitRecord("bank", None, "Banque", "company")]
    )
    assert problems == [("bank", "unit_id repeated with different values")]


def test_every_problem_is_listed_and_nothing_is_written(bank):
    records = [
        UnitRecord("b_04", "south", "Branch 4", "branch"),  # valid on its own
        UnitRecord("b_05", "nowhere", "Branch 5", "branch"),
        UnitRecord("other", None, "Other", "company"),
        UnitRecord("b_06", "south", "", ""),
        UnitRecord("north", "b_02", "North", "region"),
        UnitRecord("south", "bank", "South renamed", "region"),  # valid update, must not happen either
    ]
    with pytest.raises(HierarchyError) as caught:
        upsert_units(bank, records)
    problems = caught.value.problems
    reasons = {unit_id: [reason for uid, reason in problems if uid == unit_id] for unit_id, _ in problems}
    assert set(reasons) == {"b_05", "other", "b_06", "north", "b_02"}
    assert reasons["b_06"] == ["empty level", "empty name"]
    assert len(problems) == 6  # b_06 has two; north and b_02 are both on the cycle
    assert str(caught.value).startswith("6 hierarchy problem(s): ")
    bank.rollback()
    assert existing_unit_ids(bank) == {record.unit_id for record in BANK}
    assert get_unit(bank, "south").name == "South"
    assert get_unit(bank, "north").parent_id == "retail"


def test_hierarchy_error_is_a_value_error():
    assert issubclass(HierarchyError, ValueError)


# --- queries ---------------------------------------------------------------------------------------------


def test_all_units_are_ordered_by_depth_then_id(bank):
    assert [unit.unit_id for unit in all_units(bank)] == [
        "bank",
        "corporate",
        "retail",
        "north",
        "south",
        "b_01",
        "b_02",
        "b_03",
    ]


def test_existing_unit_ids_and_get_unit(bank):
    assert existing_unit_ids(bank) == {record.unit_id for record in BANK}
    assert get_unit(bank, "b_02").name == "Branch 2"
    assert get_unit(bank, "nope") is None


def test_subtree_includes_the_unit_itself(bank):
    assert subtree_ids(bank, "retail") == {"retail", "north", "south", "b_01", "b_02", "b_03"}
    assert subtree_ids(bank, "b_01") == {"b_01"}
    assert subtree_ids(bank, "bank") == existing_unit_ids(bank)


def test_subtree_treats_like_wildcards_in_ids_literally(session):
    # "_" and "%" are LIKE wildcards: without escaping, r_1's prefix would also match rx1's subtree.
    upsert_units(
        session,
        [
            UnitRecord("root", None, "Root", "company"),
            UnitRecord("r_1", "root", "R 1", "region"),
            UnitRecord("rx1", "root", "R x", "region"),
            UnitRecord("leaf_a", "r_1", "A", "branch"),
            UnitRecord("leaf_b", "rx1", "B", "branch"),
            UnitRecord("p%", "root", "P", "region"),
            UnitRecord("pq", "root", "Q", "region"),
            UnitRecord("leaf_q", "pq", "Q leaf", "branch"),
        ],
    )
    session.commit()
    assert subtree_ids(session, "r_1") == {"r_1", "leaf_a"}
    assert subtree_ids(session, "p%") == {"p%"}


def test_subtree_and_ancestors_of_an_unknown_unit_raise(bank):
    with pytest.raises(KeyError, match="nope"):
        subtree_ids(bank, "nope")
    with pytest.raises(KeyError, match="nope"):
        ancestor_ids(bank, "nope")


def test_ancestors_root_first_without_the_unit(bank):
    assert ancestor_ids(bank, "b_01") == ["bank", "retail", "north"]
    assert ancestor_ids(bank, "retail") == ["bank"]
    assert ancestor_ids(bank, "bank") == []


def test_children_are_direct_only_and_sorted(bank):
    assert children_ids(bank, "bank") == ["corporate", "retail"]
    assert children_ids(bank, "north") == ["b_01", "b_02"]
    assert children_ids(bank, "b_01") == []


# --- owners ----------------------------------------------------------------------------------------------


def test_set_owner_links_a_user_and_can_clear_it(bank):
    user = create_user(bank, "north.manager@bank.example", "manager", "north")
    set_owner(bank, "north", user.id)
    bank.commit()
    bank.expire_all()
    assert get_unit(bank, "north").owner.email == "north.manager@bank.example"
    set_owner(bank, "north", None)
    bank.commit()
    assert get_unit(bank, "north").owner_user_id is None


def test_set_owner_refuses_unknown_units_and_users(bank):
    user = create_user(bank, "someone@bank.example", "analyst", "bank")
    with pytest.raises(ValueError, match="unknown unit 'nope'"):
        set_owner(bank, "nope", user.id)
    with pytest.raises(ValueError, match="unknown user id 999"):
        set_owner(bank, "north", 999)


# --- scale -----------------------------------------------------------------------------------------------


def _wide_tree(branches_per_region: int) -> list[UnitRecord]:
    records = [UnitRecord("co", None, "Company", "company")]
    for d in range(10):
        records.append(UnitRecord(f"d{d}", "co", f"Division {d}", "division"))
        for r in range(10):
            records.append(UnitRecord(f"d{d}r{r}", f"d{d}", f"Region {d}.{r}", "region"))
            records.extend(
                UnitRecord(f"d{d}r{r}b{b}", f"d{d}r{r}", f"Branch {d}.{r}.{b}", "branch")
                for b in range(branches_per_region)
            )
    return records


def test_ten_thousand_units_round_trip_with_few_statements(session, engine):
    from sqlalchemy import event

    records = _wide_tree(100)  # 1 + 10 + 100 + 10,000 units
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = upsert_units(session, list(reversed(records)))
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts.inserted == 10_111
    # One SELECT of the stored tree, then batched INSERTs: no per-row round trip.
    assert sum(statement.lstrip().upper().startswith("SELECT") for statement in statements) == 1
    assert len(statements) < 50
    assert len(subtree_ids(session, "d3r4")) == 101
    assert upsert_units(session, records) == UpsertCounts(inserted=0, updated=0, unchanged=10_111)
