"""``cxloop import ...``: validated, idempotent imports."""
