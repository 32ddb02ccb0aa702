"""What several test folders share: worlds and sample files (plain modules, imported by the tests) and the
fixtures built on them (``*_fixtures`` modules, registered for the whole suite in ``tests/conftest.py``)."""
