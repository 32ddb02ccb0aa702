"""Every rejection reason: the bad row lands in the quarantine file with its file, row, column and reason,
its original values, and the good rows around it are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxloop.services.listen.imports import import_file
from cxloop.store import catalog
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.ingest.validate import REASONS
from support.import_helpers import RESPONSE_HEADER, read_quarantine, response_row, table_rows, write_csv

# (column changed in row 2, its bad value, the column reported, the reason)
RESPONSE_CASES = {
    "missing_required": ("submitted_at", "", "submitted_at", REASONS["missing"]),
    "missing_key": ("response_id", "  ", "response_id", REASONS["missing"]),
    "not_a_number": ("csat", "very good", "csat", REASONS["number"]),
    "nps_above_10": ("nps", "11", "nps", "out of range: nps must be 0 to 10, whole numbers"),
    "nps_not_whole": ("nps", "7.5", "nps", "out of range: nps must be 0 to 10, whole numbers"),
    "nps_negative": ("nps", "-1", "nps", "out of range: nps must be 0 to 10, whole numbers"),
    "csat_below_1": ("csat", "0", "csat", "out of range: csat must be 1 to 5"),
    "ces_above_7": ("ces", "8", "ces", "out of range: ces must be 1 to 7"),
    "infinite": ("ces", "inf", "ces", REASONS["number"]),
    "item_not_a_number": ("q_staff", "n/a", "q_staff", REASONS["number"]),
    "item_default_scale": ("q_wait", "11", "q_wait", "out of range: q_wait must be 0 to 10"),
    "unknown_unit": ("unit_id", "b99", "unit_id", REASONS["unit"]),
    "unparseable_date": ("submitted_at", "2024-02-30T10:00:00", "submitted_at", REASONS["date"]),
    "garbage_date": ("submitted_at", "last tuesday", "submitted_at", REASONS["date"]),
    "future_date": ("submitted_at", "2999-01-01T00:00:00Z", "submitted_at", REASONS["future"]),
    "before_1900": ("submitted_at", "1899-12-31", "submitted_at", REASONS["before_1900"]),
    "control_in_an_id": ("touchpoint", "branch\x1bvisit", "touchpoint", REASONS["control"]),
}


@pytest.mark.parametrize("case", RESPONSE_CASES, ids=list(RESPONSE_CASES))
def test_response_rejection(case: str, org, responses_csv) -> None:
    column, value, reported, reason = RESPONSE_CASES[case]
    path = responses_csv([response_row(1), response_row(2, **{column: value}), response_row(3)])
    summary = import_file("responses", path, settings=org)

    assert (summary.accepted, summary.rejected, summary.exit_code) == (2, 1, 1)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["file"], bad["row"], bad["column"], bad["reason"]) == (str(path), "2", reported, reason)
    assert bad[column] == value  # the original text, untouched
    assert [r[0] for r in table_rows(org, "responses")] == ["r0001", "r0003"]
    assert summary.problems[0] == {"file": str(path), "row": 2, "column": reported, "reason": reason}


def test_item_outside_its_catalogue_scale(org, responses_csv) -> None:
    with session_scope(engine_for(org)) as session:
        catalog.ensure_items(session, {"staff": (1.0, 5.0)})
    path = responses_csv([response_row(1, q_staff="5"), response_row(2, q_staff="6")])
    summary = import_file("responses", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["reason"]) == (
        "2",
        "q_staff",
        "out of range: q_staff must be 1 to 5",
    )


def test_several_problems_in_one_row_are_all_named(org, responses_csv) -> None:
    path = responses_csv([response_row(1, nps="12", unit_id="b99")])
    summary = import_file("responses", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert bad["column"] == "unit_id; nps"
    assert bad["reason"] == f"{REASONS['unit']}; out of range: nps must be 0 to 10, whole numbers"
    assert summary.rejected == 1


def test_duplicate_key_in_the_file_across_batches(org, responses_csv) -> None:
    rows = [response_row(i) for i in range(1, 6)] + [response_row(2, nps="3")]
    summary = import_file("responses", responses_csv(rows), settings=org, batch_size=2)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["reason"]) == (
        "6",
        "response_id",
        "duplicate response_id in the file (first at row 2)",
    )
    assert (summary.accepted, summary.rejected, summary.duplicates) == (5, 1, 0)
    # the first occurrence is the one kept
    assert [r[8] for r in table_rows(org, "responses") if r[0] == "r0002"] == [2.0]


def test_a_latin_1_value_is_read_not_quarantined(org, tmp_path: Path) -> None:
    """Issue 21: the encoding is the file's, not the row's. A row with an accent used to be quarantined as
    "invalid UTF-8" while its neighbours were kept, a subset biased towards comments without accents."""
    path = write_csv(tmp_path / "r.csv", RESPONSE_HEADER, [response_row(1), response_row(2)])
    data = path.read_bytes().replace(b"comment 2", b"caf\xe9 2")  # latin-1, not UTF-8
    path.write_bytes(data)
    summary = import_file("responses", path, settings=org)
    assert (summary.accepted, summary.rejected, summary.exit_code) == (2, 0, 0)
    assert [r[11] for r in table_rows(org, "responses") if r[0] == "r0002"] == ["café 2"]
    assert any("1 line(s) as Latin-1" in note for note in summary.notes)


def test_row_with_the_wrong_number_of_columns(org, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", RESPONSE_HEADER, [response_row(1), response_row(2), response_row(3)])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",surplus"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = import_file("responses", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["reason"]) == ("2", "", "expected 12 columns, found 13")
    assert bad["response_id"] == "r0002"
    assert [r[0] for r in table_rows(org, "responses")] == ["r0001", "r0003"]


def test_rows_are_counted_as_a_person_sees_them(org, tmp_path: Path) -> None:
    """Data rows: the header is not counted, blank lines neither, a quoted multi-line value is one row."""
    path = write_csv(
        tmp_path / "r.csv",
        RESPONSE_HEADER,
        [response_row(1, comment="line one\nline two"), response_row(2), response_row(3, nps="x")],
    )
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    path.write_text(text.replace("\nr0002", "\n\nr0002"), encoding="utf-8")
    summary = import_file("responses", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert bad["row"] == "3"


def test_customers_rejections(org, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "customers.csv",
        ["customer_id", "unit_id", "segment", "acquired_at", "acquisition_cost"],
        [
            ["c1", "b01", "premium", "2023-01-05", "100"],
            ["c2", "b01", "premium", "2023-01-05", "-5"],
            ["c3", "nowhere", "mass", "2023-01-05", "5"],
            ["c4", "b02", "mass", "0001-01-01", "5"],
        ],
    )
    summary = import_file("customers", path, settings=org)
    bad = {(r["row"], r["column"], r["reason"]) for r in read_quarantine(summary.quarantine)}
    assert bad == {
        ("2", "acquisition_cost", "out of range: acquisition_cost must be >= 0"),
        ("3", "unit_id", REASONS["unit"]),
        ("4", "acquired_at", REASONS["before_1900"]),
    }
    assert summary.accepted == 1


def test_transactions_rejections(org, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "transactions.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount"],
        [
            ["t1", "c1", "2024-01-05 10:00", "-20.5"],  # a refund: negative amounts are fine
            ["t2", "", "2024-01-05 10:00", "20"],
            ["t3", "c1", "2024-01-05 10:00", ""],
        ],
    )
    summary = import_file("transactions", path, settings=org)
    bad = {(r["row"], r["column"], r["reason"]) for r in read_quarantine(summary.quarantine)}
    assert bad == {("2", "customer_id", REASONS["missing"]), ("3", "amount", REASONS["missing"])}
    assert table_rows(org, "transactions")[0][3] == -20.5


def test_contacts_rejections(org, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "contacts.csv",
        ["contact_id", "customer_id", "occurred_at", "channel", "reason", "cost", "unit_id", "resolved"],
        [
            ["k1", "c1", "2024-01-05", "phone", "card", "6.4", "b01", "yes"],
            ["k2", "c1", "2024-01-05", "phone", "card", "6.4", "b01", "maybe"],
            ["k3", "c1", "2024-01-05", "phone", "card", "-1", "b01", "0"],
        ],
    )
    summary = import_file("contacts", path, settings=org)
    bad = {(r["row"], r["column"], r["reason"]) for r in read_quarantine(summary.quarantine)}
    assert bad == {("2", "resolved", REASONS["bool"]), ("3", "cost", "out of range: cost must be >= 0")}
    assert table_rows(org, "contacts")[0][-1] is True


def test_subscriptions_rejections(org, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "subscriptions.csv",
        ["subscription_id", "customer_id", "plan", "started_at", "ended_at", "monthly_fee", "unit_id"],
        [
            [
                "s1",
                "c1",
                "gold",
                "2023-01-01",
                "2999-01-01",
                "29.9",
                "b01",
            ],  # a future end is a notice period
            ["s2", "c1", "gold", "2023-06-01", "2023-01-01", "29.9", "b01"],
            ["s3", "c1", "gold", "2023-06-01", "", "29.9", "b01"],
        ],
    )
    summary = import_file("subscriptions", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["reason"]) == ("2", "ended_at", REASONS["ended"])
    assert summary.accepted == 2


def test_invalid_json_line(org, tmp_path: Path) -> None:
    good = {"response_id": "r1", "submitted_at": "2024-05-01T10:00:00Z", "unit_id": "b01", "nps": 9}
    lines = [
        json.dumps(good),
        '{"response_id": "r2", "submitted_at": ',
        json.dumps({**good, "response_id": "r3"}),
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = import_file("responses", path, settings=org)
    [bad] = read_quarantine(summary.quarantine)
    assert bad["row"] == "2" and bad["column"] == "" and bad["reason"].startswith("not valid JSON")
    assert bad["_raw"] == lines[1]
    assert summary.accepted == 2


_GOOD_JSON = {"response_id": "r1", "submitted_at": "2024-05-01T10:00:00Z", "unit_id": "b01", "nps": 9}


def _import_json_lines(org, tmp_path: Path, second: dict):
    lines = [json.dumps(_GOOD_JSON), json.dumps({**_GOOD_JSON, "response_id": "r2", **second})]
    path = tmp_path / "responses.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return import_file("responses", path, settings=org), lines


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        pytest.param("customer_id", {"a": 1}, "an object", id="object-in-an-id"),
        pytest.param("segment", ["x"], "a list", id="list-in-an-id"),
        pytest.param("comment", ["a", "b"], "a list", id="list-in-a-text"),
        pytest.param("nps", {"score": 9}, "an object", id="object-in-a-number"),
        pytest.param("q_staff", [4], "a list", id="list-in-an-item"),
    ],
)
def test_an_object_or_a_list_in_a_column_is_refused_not_kept_as_text(field, value, kind, org, tmp_path):
    # Before, the object or list was stored as its JSON text (issue 23).
    summary, _ = _import_json_lines(org, tmp_path, {field: value})
    assert (summary.accepted, summary.rejected) == (1, 1)
    [bad] = read_quarantine(summary.quarantine)
    reason = REASONS["structured"].format(kind=kind)
    assert (bad["row"], bad["column"], bad["reason"]) == ("2", field, reason)  # one reason, not "missing" too
    assert json.loads(bad[field]) == value  # the original, as its JSON text
    assert [r[0] for r in table_rows(org, "responses")] == ["r1"]


def test_an_object_in_a_field_that_is_not_read_is_ignored_like_the_field(org, tmp_path):
    summary, _ = _import_json_lines(org, tmp_path, {"meta": {"tool": "survey", "tags": ["a"]}})
    assert (summary.accepted, summary.rejected) == (2, 0)


@pytest.mark.parametrize(
    ("second", "column", "reason"),
    [
        pytest.param({"comment": "\ud800"}, "comment", "not a character: a lone UTF-16", id="value"),
        pytest.param({"q_\udc00": 3}, "q_\\udc00", "not a character: a lone UTF-16 surrogate in", id="name"),
        pytest.param({"meta": {"x": "\ud800"}}, "meta", "not a character", id="unread-field"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_rejected_row(second, column, reason, org, tmp_path):
    # Before, it failed the whole import with UnicodeEncodeError: no UTF-8 text can hold it.
    summary, lines = _import_json_lines(org, tmp_path, second)
    assert (summary.accepted, summary.rejected) == (1, 1)
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"]) == ("2", column) and bad["reason"].startswith(reason)
    assert bad["_raw"] == lines[1]


UNIT_HEADER = ["unit_id", "parent_id", "name", "level"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([["", "bank", "X", "branch"]], ("1", "unit_id", REASONS["missing"]), id="missing_id"),
        pytest.param([["b09", "north", "", "branch"]], ("1", "name", REASONS["missing"]), id="missing_name"),
        pytest.param([["b09", "north", "B9", ""]], ("1", "level", REASONS["missing"]), id="missing_level"),
        pytest.param(
            [["b09", "north", "B9", "branch"], ["b09", "south", "B9", "branch"]],
            ("2", "unit_id", "duplicate unit_id in the file (first at row 1)"),
            id="duplicate",
        ),
        pytest.param(
            [["b09", "west", "B9", "branch"]],
            ("1", "parent_id", "unknown parent 'west': not in the file or the database"),
            id="unknown_parent",
        ),
        pytest.param(
            [["b01", "b03", "B1", "branch"], ["b03", "b01", "B3", "branch"]],
            ("1", "parent_id", "cycle: b01 -> b03 -> b01"),
            id="cycle",
        ),
        pytest.param(
            [["top", "", "Another root", "company"]],
            ("1", "parent_id", "second root: the hierarchy also has root 'bank'"),
            id="second_root",
        ),
        pytest.param(
            [["a/b", "bank", "Slash", "region"]], ("1", "unit_id", "unit_id contains '/'"), id="slash"
        ),
    ],
)
def test_units_rejection(rows, expected, org, tmp_path: Path) -> None:
    summary = import_file("units", write_csv(tmp_path / "more-units.csv", UNIT_HEADER, rows), settings=org)
    found = [(r["row"], r["column"], r["reason"]) for r in read_quarantine(summary.quarantine)]
    assert found[0] == expected
    assert summary.exit_code == 1


def test_units_child_of_a_rejected_unit_is_rejected_too(org, tmp_path: Path) -> None:
    rows = [
        ["west", "", "", "region"],
        ["b10", "west", "Branch 10", "branch"],
        ["b11", "north", "B11", "branch"],
    ]
    summary = import_file("units", write_csv(tmp_path / "u.csv", UNIT_HEADER, rows), settings=org)
    found = [(r["row"], r["column"], r["reason"]) for r in read_quarantine(summary.quarantine)]
    assert found == [
        ("1", "name", REASONS["missing"]),
        ("2", "parent_id", "parent 'west' was rejected (row 1)"),
    ]
    assert (summary.accepted, summary.rejected) == (1, 2)
    assert ("b11",) in [(r[0],) for r in table_rows(org, "units")]
