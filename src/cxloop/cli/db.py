"""``cxloop db ...``: the app database's migrations."""
