"""Ingestion: stream files in batches, validate rows, quarantine the bad ones, append the good ones.

``readers`` (CSV, Parquet, JSON Lines as Arrow batches), ``mapping`` (the column mapping file),
``parse`` and ``validate`` (vectorised checks), ``seen`` (keys repeated inside a file), ``load``
(atomic idempotent appends), ``quarantine`` (the rejected rows' file), ``kinds`` (the canonical columns
of every kind). :func:`cxloop.services.listen.imports.import_file` ties them to the app database.
"""
