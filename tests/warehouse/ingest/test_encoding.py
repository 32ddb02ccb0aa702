"""The encoding of a text file, decided over the whole file and line by line for legacy code pages."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from pathlib import Path

import pytest

from cxloop.warehouse.ingest.encoding import EncodingRefused, detect_encoding, line_score, utf8_stream
from cxloop.warehouse.ingest.mapping import ColumnMapping
from cxloop.warehouse.ingest.readers import SourceError, open_source
from support.legacy_files import french_r_export


def _detect(data: bytes, declared: str | None = None):
    return detect_encoding(lambda: io.BytesIO(data), "f.csv", declared)


def _read(data: bytes, declared: str | None = None) -> str:
    found = _detect(data, declared)
    return utf8_stream(io.BytesIO(data), found).read().decode("utf-8")


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("latin-1", "Très bien, à bientôt"),
        ("cp850", "Très bien, à bientôt"),
        ("cp850", "ÉCOLE fermée, déçu"),
        ("mac_roman", "Schöne Grüße, Übersicht war gut"),
        ("cp1252", "C’est “super” – 10 €"),
        ("cp1252", "Un cœur d’or, Œuvre"),
    ],
)
def test_each_legacy_line_is_read_in_its_own_code_page(codec: str, text: str) -> None:
    data = f"id,comment\n1,{text}\n".encode(codec)
    found = _detect(data)
    assert found.lines == {codec: 1}
    assert _read(data) == f"id,comment\n1,{text}\n"


def test_mixed_latin_1_and_cp850_lines_are_each_read_right(tmp_path: Path) -> None:
    rows = french_r_export(tmp_path / "fr.csv", n=70, dos_every=7)
    data = (tmp_path / "fr.csv").read_bytes()
    found = _detect(data)
    accented = [i for i, r in enumerate(rows, start=1) if not r["comment"].isascii()]
    dos = [i for i in accented if i % 7 == 0]
    assert found.lines == {"latin-1": len(accented) - len(dos), "cp850": len(dos)}
    assert found.label == "mixed single-byte code pages"
    read = list(csv.DictReader(io.StringIO(_read(data))))
    assert [r["comment"] for r in read] == [r["comment"] for r in rows]
    note = found.note("fr.csv")
    assert note is not None and f"{len(dos)} line(s) as DOS code page 850" in note


@pytest.mark.parametrize(
    ("data", "codec"),
    [
        ("id,comment\n1,café\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "id,comment\n1,café\n".encode(), "utf-8-sig"),
        ("id,comment\n1,café\n".encode("utf-16"), "utf-16"),
        ("id,comment\n1,café\n".encode("utf-16-le"), "utf-16-le"),
        (b"id,comment\n1,plain\n", "utf-8"),
    ],
)
def test_unicode_files_are_read_whole(data: bytes, codec: str) -> None:
    found = _detect(data)
    assert (found.codec, found.legacy) == (codec, False)
    assert _read(data).lstrip("\ufeff") == data.decode(codec).lstrip("\ufeff")


def test_a_utf8_file_with_some_legacy_lines_keeps_its_utf8_lines() -> None:
    data = "id,comment\n1,café\n".encode() + "2,déçu\n".encode("cp850")
    assert _detect(data).lines == {"utf-8": 1, "cp850": 1}
    assert _read(data) == "id,comment\n1,café\n2,déçu\n"


def test_a_line_no_code_page_reads_refuses_the_file_naming_it() -> None:
    # Windows-1252: "×÷¤¦" (two stray signs, -4); code page 850: "Î" inside a word, "¸", "ñ", "ª" (-2);
    # Mac Roman: "◊˜§¶" (-4). No reading is text.
    data = b"id,comment\n1,fine\n2,x\xd7\xf7\xa4\xa6\n"
    with pytest.raises(EncodingRefused, match=r"f\.csv: line 3 cannot be read as text") as caught:
        _detect(data)
    assert "nothing was imported" in str(caught.value) and "CSV UTF-8" in str(caught.value)


def test_a_declared_encoding_refuses_a_line_it_cannot_decode() -> None:
    """Issue 21: `encoding: cp1252` crashed with UnicodeDecodeError on byte 0x90 (a DOS 'É')."""
    data = "id,comment\n1,café\n".encode("cp1252") + "2,ÉCOLE\n".encode("cp850")
    with pytest.raises(EncodingRefused, match=r"line 3 cannot be read as text in Windows-1252"):
        _detect(data, "cp1252")
    assert _detect(data[: data.index(b"2,")], "cp1252").note("f.csv") == (
        "f.csv read as Windows-1252, as the mapping's `encoding:` says"
    )


def test_scores_rule_out_control_characters_and_undefined_bytes() -> None:
    assert line_score(b"caf\x90", "cp1252") is None  # undefined in Windows-1252
    assert line_score(b"caf\x85", "latin-1") is None  # a C1 control in Latin-1
    assert line_score(b"caf\x82 ok", "cp850") == 3  # é, a frequent letter
    assert line_score(b"r\x82server", "cp1252") == -2  # a low quote wedged in a word


def test_readers_refuse_an_unreadable_file_and_read_gzipped_legacy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"response_id,comment\nr1,x\xd7\xf7\xa4\xa6\n")
    with pytest.raises(SourceError, match="line 2"):
        open_source(bad)
    packed = tmp_path / "fr.csv.gz"
    with gzip.open(packed, "wb") as handle:
        handle.write("name\nÉCOLE déçue\n".encode("cp850"))
    with open_source(packed) as source:
        [batch] = list(source.batches(10))
        assert batch.table.column("name").to_pylist() == ["ÉCOLE déçue".encode()]
        assert source.notes() and "DOS code page 850" in source.notes()[0]
    lines = tmp_path / "r.jsonl"
    lines.write_bytes('{"name": "Très bien"}\n'.encode("latin-1"))
    with open_source(lines) as source:
        [batch] = list(source.batches(10))
        assert batch.table.column("name").to_pylist() == ["Très bien"]
    with pytest.raises(SourceError, match="line 2 cannot be read as text in Windows-1252"):
        open_source(tmp_path / "fr.csv.gz", ColumnMapping(encoding="cp1252"))
