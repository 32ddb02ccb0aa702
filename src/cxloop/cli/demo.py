"""``cxloop demo ...``: the demo company."""
