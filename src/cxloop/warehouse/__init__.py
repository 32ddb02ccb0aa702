"""Warehouse: facts (responses, answers, customers, transactions, contacts, subscriptions) behind Ibis.

The same expressions run on DuckDB (the embedded default) and on any Ibis backend (Spark is tested).
Shared modules sit at the top (``connection``, ``schemas``, ``tables``, ``periods``, ``outcomes``,
``scores``, ``sql``); ``ingest/`` turns files into validated Arrow batches, ``derived/`` holds the tables
kept from each batch (listed once in ``derived/registry.py``), ``write/`` the writer that appends batches
and keeps those tables in step, ``queries/`` what is asked of the facts. Imports run one way:
shared <- ``ingest/``, ``derived/`` <- ``write/`` <- ``queries/`` (docs/architecture.md).
"""
