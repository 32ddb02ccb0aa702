"""Hostile and broken .xlsx files are refused with a sentence, before they cost memory (issue 23, defect 7).

Before the checks, random bytes, a damaged zip, a billion-laughs and an XXE workbook each raised an
exception the upload page answered with 500, and a 200 KB shared-strings bomb added 400 MB to the server.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from cxloop.warehouse.ingest.exports import _workbook
from cxloop.warehouse.ingest.exports._rows import ExportFileError, open_rows
from support import hostile_xlsx


def read(path: Path) -> list[list[str]]:
    return list(open_rows(path).rows())


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_minimal_workbook_reads(tmp_path: Path) -> None:
    rows = read(write(tmp_path, "ok.xlsx", hostile_xlsx.minimal_workbook()))
    assert rows == [["ResponseId", "Comment"], ["R_1", "fine"]]


def test_openpyxl_parses_through_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (hostile_xlsx.random_bytes, "is not an Excel workbook (.xlsx): it is not a zip archive"),
        (hostile_xlsx.truncated_zip, "is not an Excel workbook (.xlsx): it is not a zip archive"),
        (hostile_xlsx.malformed_zip, "is not a readable Excel workbook (error: Error -3 while decompressing"),
        (hostile_xlsx.billion_laughs, "is not a readable Excel workbook (EntitiesForbidden"),
        (hostile_xlsx.xxe, "is not a readable Excel workbook (EntitiesForbidden"),
        (lambda: hostile_xlsx.minimal_workbook({"xl/workbook.xml": "<workbook"}), "is not a readable Excel"),
    ],
    ids=["random-bytes", "truncated", "malformed", "billion-laughs", "xxe", "broken-xml"],
)
def test_a_broken_or_hostile_workbook_is_refused_with_a_sentence(tmp_path: Path, build, message) -> None:
    path = write(tmp_path, "export.xlsx", build())
    with pytest.raises(ExportFileError) as refused:
        read(path)
    assert message in str(refused.value)
    assert "export the survey as CSV" in str(refused.value)
    assert str(tmp_path) not in str(refused.value)  # the server's paths stay on the server


def test_an_external_entity_is_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    path = write(tmp_path, "xxe.xlsx", hostile_xlsx.xxe(secret.as_uri()))
    with pytest.raises(ExportFileError) as refused:
        read(path)
    assert "TOP-SECRET-CONTENT" not in str(refused.value)


@pytest.fixture
def openpyxl_must_not_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusals below come from the zip's directory alone: openpyxl is never asked to parse."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("openpyxl was asked to parse a file the directory check should refuse")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_a_shared_strings_bomb_is_refused_from_the_zip_directory(
    tmp_path: Path, openpyxl_must_not_open
) -> None:
    megabytes = (_workbook.MAX_TABLE_BYTES >> 20) + 1
    data = hostile_xlsx.shared_strings_bomb(megabytes)
    assert len(data) < 200 << 10  # a small file...
    with pytest.raises(ExportFileError) as refused:
        read(write(tmp_path, "bomb.xlsx", data))
    message = str(refused.value)  # ...that would unpack to more than any part may
    assert "its part xl/sharedStrings.xml unpacks to 33 MB, more than the 32 MB" in message


def test_a_worksheet_may_be_larger_than_an_in_memory_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_workbook, "MAX_TABLE_BYTES", 100)  # every part but the worksheet is over it...
    monkeypatch.setattr(_workbook, "MAX_SHEET_BYTES", 10_000)
    big_sheet = hostile_xlsx.minimal_workbook()
    with pytest.raises(ExportFileError, match="unpacks to"):
        read(write(tmp_path, "a.xlsx", big_sheet))
    monkeypatch.setattr(_workbook, "MAX_TABLE_BYTES", 10_000)  # ...and the sheet streams, within its own cap
    assert read(write(tmp_path, "b.xlsx", big_sheet))[1] == ["R_1", "fine"]


def test_all_parts_together_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, openpyxl_must_not_open
) -> None:
    monkeypatch.setattr(_workbook, "MAX_UNPACKED_BYTES", 5_000)
    with pytest.raises(ExportFileError, match="more than the 5 KB cxloop reads from one workbook"):
        read(write(tmp_path, "a.xlsx", hostile_xlsx.minimal_workbook({"xl/media/pad.bin": b"0" * 6000})))


@pytest.mark.parametrize(
    "build",
    [lambda: hostile_xlsx.too_many_parts(_workbook.MAX_PARTS + 1), hostile_xlsx.zip64_parts],
    ids=["over-the-cap", "zip64"],
)
def test_a_zip_with_too_many_parts_is_refused_before_its_directory_is_loaded(
    tmp_path: Path, build, openpyxl_must_not_open, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    def no_directory(*_args, **_kwargs):
        raise AssertionError("the zip directory was loaded")

    path = write(tmp_path, "parts.xlsx", build())
    monkeypatch.setattr(zipfile, "ZipFile", no_directory)
    with pytest.raises(ExportFileError, match="has more parts than a workbook has"):
        read(path)


def test_a_zip_without_a_workbook_is_not_a_workbook(tmp_path: Path, openpyxl_must_not_open) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ExportFileError, match=r"it has no \[Content_Types\].xml, xl/workbook.xml"):
        read(write(tmp_path, "export.xlsx", buffer.getvalue()))


def test_reading_stops_when_defusedxml_is_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(ExportFileError, match="needs openpyxl to parse through defusedxml"):
        read(write(tmp_path, "ok.xlsx", hostile_xlsx.minimal_workbook()))
