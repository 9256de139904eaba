"""Store tests: the same suite on LadybugDB and on a real Neo4j (see tests/store_fixtures.py)."""

from tests.store_fixtures import *  # noqa: F401,F403
