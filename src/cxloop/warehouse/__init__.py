"""Warehouse: facts (responses, answers, customers, transactions, contacts, subscriptions) behind Ibis.

The same expressions run on DuckDB (the embedded default) and on any Ibis backend (Spark is tested).
"""
