"""Ingestion: files to validated Arrow batches, the bad rows to quarantine.

``readers`` (CSV, Parquet, JSON Lines as Arrow batches), ``exports/`` (survey-tool exports), ``mapping``
(the column mapping file), ``parse`` and ``validate`` (vectorised checks), ``seen`` (keys repeated inside a
file), ``quarantine`` (the rejected rows' file), ``kinds`` (the canonical columns of every kind). The good
rows are appended by :func:`cxloop.warehouse.write.writer.append_batch`;
:func:`cxloop.services.listen.imports.import_file` ties them to the app database.
"""
