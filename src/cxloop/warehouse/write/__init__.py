"""Writing to the warehouse.

``writer`` (one writer per backend and :func:`~cxloop.warehouse.write.writer.append_batch`, the atomic,
idempotent append of a validated batch that keeps every derived table in step), ``failpoints``
(deterministic crash points inside a batch, for tests), ``attributes`` (``response_attributes`` of stored
responses) and ``hierarchy`` (the org tree's mirror: ``units`` and ``unit_closure``).
"""
