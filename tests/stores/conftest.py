"""Store tests: the same suite on LadybugDB and on a real Neo4j (fixtures in tests/store_fixtures.py, loaded by
tests/conftest.py)."""
