"""Readers for survey-tool exports: Qualtrics, SurveyMonkey, Google Forms and Typeform (CSV or .xlsx).

They live in the warehouse ingest layer next to the CSV/Parquet/JSON Lines readers because they do the
same job: turn a file into batches of the file's columns. The existing validation, quarantine,
all-or-nothing batches and idempotent loads then do the rest; a mapping proposal (:mod:`.propose`) says
which column is what. Nothing here touches a database.
"""

from __future__ import annotations

from cxloop.warehouse.ingest.exports.propose import Proposal, ProposedColumn, propose_mapping
from cxloop.warehouse.ingest.exports.source import ExportSource, open_export
from cxloop.warehouse.ingest.exports.tools import DERIVED_ID, TOOLS, ExportColumn, ExportLayout

__all__ = [
    "DERIVED_ID",
    "TOOLS",
    "ExportColumn",
    "ExportLayout",
    "ExportSource",
    "Proposal",
    "ProposedColumn",
    "open_export",
    "propose_mapping",
]
