"""Who may add to the catalogue when importing, and the ceiling on driver items (issue 23, defects 2 and 9).

* rights by viewer: an admin of the whole organisation adds (at most the per-request number of new items in
  a post); an admin of part of it, an analyst at the top and a signed webhook add nothing;
* a file imported without the right to add: the rows naming an unknown touchpoint, segment or item are in
  the quarantine file with the reason, the others are stored, the catalogue is unchanged;
* a file whose new items would pass ``CXLOOP_MAX_ITEMS``: refused whole with a message that says what to
  do, nothing stored, the import run ``failed`` with that message;
* (an upload started by an admin of part of the organisation imports with that admin's rights:
  ``tests/web/pages/test_upload_pages.py``)
* (the store's ``ensure_*`` refuse a malformed new id themselves: ``tests/store/test_catalog.py``)
"""

from __future__ import annotations

import pytest

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.listen.catalogue import SIGNED_WEBHOOK, CatalogueRights, catalogue_rights
from cxloop.services.listen.imports import ImportFileError, import_file
from cxloop.store import catalog
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import ImportRun, Role
from support.import_helpers import RESPONSE_HEADER, read_quarantine, response_row, table_rows


def test_only_an_admin_of_the_whole_organisation_adds(org: Settings) -> None:
    engine = engine_for(org)
    try:
        with session_scope(engine) as session:
            root_admin = catalogue_rights(session, Viewer("bank", Role.admin), org, request=True)
            assert root_admin.extend and root_admin.new_items == org.max_new_items_per_request
            assert catalogue_rights(session, Viewer("bank", Role.admin), org).new_items is None
            for viewer in (
                Viewer("north", Role.admin),
                Viewer("bank", Role.analyst),
                Viewer("b01", Role.manager),
            ):
                assert not catalogue_rights(session, viewer, org).extend, viewer
            assert catalogue_rights(session, None, org) == SIGNED_WEBHOOK
            assert not SIGNED_WEBHOOK.extend

    finally:
        engine.dispose()


def test_a_scoped_import_quarantines_rows_naming_unknown_entries(org: Settings, responses_csv) -> None:
    first = import_file("responses", responses_csv([response_row(1), response_row(2)]), settings=org)
    assert first.rejected == 0 and set(first.new_items) == {"staff", "wait"}
    engine = engine_for(org)
    try:
        with session_scope(engine) as session:
            before = (
                catalog.touchpoint_ids(session),
                catalog.segment_ids(session),
                catalog.question_ids(session),
            )
    finally:
        engine.dispose()

    header = [*RESPONSE_HEADER, "segment", "q_new"]
    rows = [
        [*response_row(3), "", ""],
        [*response_row(4, touchpoint="lobby"), "", ""],
        [*response_row(5), "vip", ""],
        [*response_row(6), "", "7"],
        [*response_row(7), "", ""],
    ]
    path = responses_csv(rows, name="scoped.csv", header=header)
    summary = import_file("responses", path, settings=org, rights=CatalogueRights(extend=False))
    assert (summary.accepted, summary.rejected) == (2, 3)
    assert (summary.new_touchpoints, summary.new_segments, summary.new_items) == ((), (), ())
    quarantined = {row["row"]: row for row in read_quarantine(summary.quarantine)}
    assert {r: (q["column"], q["reason"].split(":")[0]) for r, q in quarantined.items()} == {
        "2": ("touchpoint", "unknown touchpoint 'lobby'"),
        "3": ("segment", "unknown segment 'vip'"),
        "4": ("q_new", "unknown item 'new'"),
    }
    assert all("only an admin of the whole organisation" in q["reason"] for q in quarantined.values())
    engine = engine_for(org)
    try:
        with session_scope(engine) as session:
            after = (
                catalog.touchpoint_ids(session),
                catalog.segment_ids(session),
                catalog.question_ids(session),
            )
    finally:
        engine.dispose()
    assert after == before
    stored = {row[0] for row in table_rows(org, "responses")}  # response_id first
    assert {"r0003", "r0007"} <= stored and not {"r0004", "r0005", "r0006"} & stored


def test_a_file_past_the_item_ceiling_is_refused_whole(org: Settings, responses_csv) -> None:
    settings = org.model_copy(update={"max_items": 4})
    header = [*RESPONSE_HEADER, "q_a", "q_b", "q_c"]
    path = responses_csv([[*response_row(1), "1", "2", "3"]], name="wide.csv", header=header)
    with pytest.raises(ImportFileError) as refused:
        import_file("responses", path, settings=settings)
    message = str(refused.value)
    assert "5 new driver items" in message and "would make 5" in message and "ceiling of 4" in message
    assert "CXLOOP_MAX_ITEMS" in message and "nothing was imported" in message
    assert table_rows(settings, "responses") == []
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            assert catalog.driver_item_count(session) == 0
            run = session.query(ImportRun).order_by(ImportRun.id.desc()).first()
            assert run is not None and run.status == "failed" and "CXLOOP_MAX_ITEMS" in run.message
    finally:
        engine.dispose()
    # within the ceiling the same kind of file is imported
    allowed = import_file("responses", path, settings=org)
    assert allowed.accepted == 1 and len(allowed.new_items) == 5
