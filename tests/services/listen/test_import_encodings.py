"""Issue 21: a file's encoding is decided over the whole file, and a file whose good rows would be a
biased subset is refused before anything is stored (unless the person importing accepts it)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.config import Settings
from cxloop.services.listen.imports import ImportFileError, import_file
from cxloop.warehouse.ingest.mapping import ColumnMapping, PeriodMapping
from support.import_helpers import RESPONSE_HEADER, response_row, table_rows, write_csv
from support.legacy_files import french_r_export

FRENCH = ColumnMapping(
    constants={"submitted_at": "2024-06-01"},
    missing_values=("NA",),
)


def _stored(settings: Settings) -> list[tuple]:
    path = settings.data_dir / "warehouse.duckdb"
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        if "responses" not in tables:
            return []
        return con.execute("SELECT * FROM responses ORDER BY response_id").fetchall()
    finally:
        con.close()


def _nps(values: list[float]) -> float:
    return 100 * (sum(v >= 9 for v in values) - sum(v <= 6 for v in values)) / len(values)


def test_a_latin_1_file_with_cp850_lines_imports_every_row(org: Settings, tmp_path: Path) -> None:
    """The issue's file: every row whose comment had an accent was quarantined as "invalid UTF-8", and the
    NPS of what was kept was biased. Now every row is kept, with its comment as written."""
    rows = french_r_export(tmp_path / "fr.csv", n=300, dos_every=7)
    summary = import_file("responses", tmp_path / "fr.csv", settings=org, mapping=FRENCH)
    assert (summary.accepted, summary.rejected, summary.exit_code) == (300, 0, 0)
    stored = {r[0]: r for r in table_rows(org, "responses")}
    assert [stored[r["response_id"]][11] or "" for r in rows] == [r["comment"] for r in rows]
    true = [float(r["nps"]) for r in rows if r["nps"] != "NA"]
    kept = [r[8] for r in stored.values() if r[8] is not None]
    assert _nps(kept) == pytest.approx(_nps(true))
    dos = sum(1 for i, r in enumerate(rows, start=1) if i % 7 == 0 and not r["comment"].isascii())
    assert any(f"{dos} line(s) as DOS code page 850" in note for note in summary.notes)
    # the file's other columns (period, visits, basket in euros) are kept as response attributes
    attributes = {(r[0], r[1]): r[2] for r in table_rows(org, "response_attributes")}
    assert summary.attributes == len(attributes) == 3 * 300
    assert attributes[("fr00007", "basket_eur")] == rows[6]["basket_eur"]
    assert attributes[("fr00007", "visits")] == rows[6]["visits"]


def test_an_unreadable_line_refuses_the_file_and_stores_nothing(org: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", RESPONSE_HEADER, [response_row(i) for i in range(1, 6)])
    path.write_bytes(path.read_bytes().replace(b"comment 4", b"x\xd7\xf7\xa4\xa6"))
    with pytest.raises(ImportFileError, match=r"r\.csv: line 5 cannot be read as text") as caught:
        import_file("responses", path, settings=org)
    assert "nothing was imported" in str(caught.value)
    assert _stored(org) == []


def test_a_declared_encoding_that_does_not_fit_is_a_refusal_not_a_crash(
    org: Settings, tmp_path: Path
) -> None:
    """Issue 21: `encoding: cp1252` on a file with DOS lines crashed with UnicodeDecodeError ... 0x90 and
    "run the same command again"."""
    french_r_export(tmp_path / "fr.csv", n=40, dos_every=7)
    path = tmp_path / "fr.csv"
    path.write_bytes(path.read_bytes() + '"fr99999",1,"b01",9,"ÉCOLE",1,2.5\r\n'.encode("cp850"))
    mapping = ColumnMapping(
        constants=FRENCH.constants, missing_values=FRENCH.missing_values, encoding="cp1252"
    )
    with pytest.raises(ImportFileError, match=r"line 42 cannot be read as text in Windows-1252"):
        import_file("responses", path, settings=org, mapping=mapping)
    assert _stored(org) == []


def _with_bad_units(tmp_path: Path, n: int, bad: int) -> Path:
    rows = [response_row(i, unit_id="b99" if i <= bad else "b01") for i in range(1, n + 1)]
    return write_csv(tmp_path / "r.csv", RESPONSE_HEADER, rows)


def test_a_biased_subset_is_refused_unless_accepted(org: Settings, tmp_path: Path) -> None:
    path = _with_bad_units(tmp_path, n=100, bad=12)
    with pytest.raises(ImportFileError, match=r"12 of 100 rows \(12\.0%\) would be rejected") as caught:
        import_file("responses", path, settings=org)
    assert "--accept-partial" in str(caught.value) and "unknown unit" in str(caught.value)
    assert _stored(org) == []
    summary = import_file("responses", path, settings=org, accept_partial=True)
    assert (summary.accepted, summary.rejected, summary.exit_code) == (88, 12, 1)


def test_the_share_is_counted_over_every_batch(org: Settings, tmp_path: Path) -> None:
    """The bad rows sit in the last of four batches: the first three are not stored before the refusal."""
    rows = [response_row(i, unit_id="b99" if i > 85 else "b01") for i in range(1, 101)]
    path = write_csv(tmp_path / "r.csv", RESPONSE_HEADER, rows)
    with pytest.raises(ImportFileError, match=r"15 of 100 rows"):
        import_file("responses", path, settings=org, batch_size=25)
    assert _stored(org) == []
    summary = import_file("responses", path, settings=org, batch_size=25, accept_partial=True)
    assert (summary.accepted, summary.rejected, summary.batches) == (85, 15, 4)


def test_few_rejections_or_a_small_share_import_the_good_rows(org: Settings, tmp_path: Path) -> None:
    summary = import_file("responses", _with_bad_units(tmp_path, n=300, bad=12), settings=org)
    assert (summary.accepted, summary.rejected) == (288, 12)  # 4% of the rows
    small = tmp_path / "small"
    small.mkdir()
    summary = import_file("responses", _with_bad_units(small, n=20, bad=3), settings=org)
    assert summary.rejected == 3  # 15%, but three rows are a typo, not a bias


def test_the_setting_moves_the_limit(org: Settings, tmp_path: Path) -> None:
    strict = org.model_copy(update={"import_max_rejected_share": 0.01})
    with pytest.raises(ImportFileError, match=r"limit is CXLOOP_IMPORT_MAX_REJECTED_SHARE = 1%"):
        import_file("responses", _with_bad_units(tmp_path, n=300, bad=12), settings=strict)


_HEADER = ",".join(RESPONSE_HEADER).encode() + b"\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=300).map(lambda b: _HEADER + b),
        st.lists(
            st.sampled_from([b"r1,2024-05-01,b01,,,,9,,,", b"\xe9\x82\x90\xd7", b",", b"\n", b'"', b"\x00"])
        ).map(lambda parts: _HEADER + b"".join(parts)),
    )
)
def test_any_bytes_give_a_clean_import_or_a_refusal_storing_nothing(
    org: Settings, tmp_path: Path, body: bytes
) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(body)
    before = _stored(org)
    try:
        summary = import_file("responses", path, settings=org, accept_partial=False)
    except ImportFileError as exc:
        assert str(exc)  # a sentence, and nothing stored
        assert _stored(org) == before
        return
    assert summary.exit_code in (0, 1)
    assert len(_stored(org)) == len(before) + summary.accepted
    if summary.quarantine:
        with open(summary.quarantine, encoding="utf-8", newline="") as handle:
            assert len(list(csv.DictReader(handle))) == summary.rejected


def test_a_period_column_dates_the_rows_with_a_warning(org: Settings, tmp_path: Path) -> None:
    """Issue 21's file has no timestamp, only a period number t: `period: {column: t, start: 2020-01,
    every: month}` dates each row on the first day of its month."""
    rows = french_r_export(tmp_path / "fr.csv", n=60)
    mapping = tmp_path / "fr.yaml"
    mapping.write_text(
        'missing_values: ["NA"]\nperiod: {column: t, start: 2020-01, every: month}\n', encoding="utf-8"
    )
    summary = import_file("responses", tmp_path / "fr.csv", settings=org, mapping=mapping)
    assert (summary.accepted, summary.rejected) == (60, 0)
    stored = {r[0]: r[1] for r in table_rows(org, "responses")}
    for row in rows:
        t = int(row["t"])
        assert (
            stored[row["response_id"]].date().isoformat()
            == f"{2020 + (t - 1) // 12}-{(t - 1) % 12 + 1:02d}-01"
        )
    assert any("comes from the period numbers in 't'" in note for note in summary.notes)


def test_a_bad_period_number_is_a_rejected_row_naming_it(org: Settings, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("response_id,unit_id,q,nps\nr1,b01,3,9\nr2,b01,x,9\n", encoding="utf-8")
    quarterly = ColumnMapping(period=PeriodMapping("q", date(2023, 1, 1), "quarter"))
    summary = import_file("responses", path, settings=org, mapping=quarterly)
    assert summary.accepted == 1 and "impossible date" in summary.problems[0]["reason"]
    assert [r[1].date().isoformat() for r in table_rows(org, "responses")] == ["2023-07-01"]


def test_submitted_at_gives_one_date_with_a_warning(org: Settings, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("response_id,unit_id,nps\nr1,b01,9\nr2,b02,3\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="missing required column.*submitted_at"):
        import_file("responses", path, settings=org)
    summary = import_file("responses", path, settings=org, submitted_at="2024-06-01")
    assert summary.accepted == 2
    assert {r[1].date().isoformat() for r in table_rows(org, "responses")} == {"2024-06-01"}
    assert any("every row's submitted_at is 2024-06-01" in note for note in summary.notes)
