"""JSON routers of the API: ``health`` (no auth), ``auth`` (tokens) and ``units`` (scoped data)."""
