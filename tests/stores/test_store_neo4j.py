"""Neo4j specifics against the real server from the test harness: URIs and env vars, constraints, READ routing,
and a transaction killed half-way."""

from __future__ import annotations

import threading

import neo4j
import pytest

from stylekg.errors import StoreError
from stylekg.kg.stores import open_store
from stylekg.kg.stores.neo4j import Neo4jStore

from .graphs import GRAPH, hierarchy, snapshot

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def clean(neo4j_uri):
    with neo4j.GraphDatabase.driver(neo4j_uri, auth=None) as driver:
        driver.execute_query("MATCH (n) WHERE NOT n:StyleKGMeta DETACH DELETE n")
    return neo4j_uri


def test_open_store_from_uri_and_env(clean, monkeypatch):
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    with open_store(clean) as store:
        assert isinstance(store, Neo4jStore)
        store.save_graph(hierarchy())
    monkeypatch.setenv("NEO4J_URI", clean)
    with open_store("neo4j") as store:
        assert snapshot(store.load_graph(GRAPH)) == snapshot(hierarchy())
    monkeypatch.setenv("NEO4J_DATABASE", "nosuchdb")
    with pytest.raises(StoreError):
        open_store(clean)


def test_unreachable_server_is_one_clear_error():
    with pytest.raises(StoreError, match="cannot reach .*check the URI"):
        open_store("bolt://127.0.0.1:1")


def test_constraints_and_indexes_exist(clean):
    with open_store(clean) as store:
        names = {r["name"] for r in store.query("SHOW CONSTRAINTS YIELD name RETURN name")}
        assert {"stylekg_style_key", "stylekg_run_id", "stylekg_subclass_of_key", "stylekg_graph_name"} <= names
        # the uniqueness constraint is real: a second node with the same key is refused, nothing written
        store.save_graph(hierarchy())
        key = store.query("MATCH (s:Style) RETURN s.key AS k LIMIT 1")[0]["k"]
        with pytest.raises(StoreError, match="refused"):
            store.query("CREATE (:Style {key: 'fresh'}) CREATE (:Style {key: $k})", {"k": key}, write=True)
        assert store.query("MATCH (s:Style {key: 'fresh'}) RETURN s") == []


def test_reads_use_read_access_mode(clean):
    """Even a write that slips past the keyword check is refused by the server in READ mode."""
    with open_store(clean) as store:
        with pytest.raises(StoreError, match="read access mode|AccessMode|Writing in read"):
            store._read("CREATE (:Style {key: 'sneaky'})", {})
        assert store.query("MATCH (s:Style {key: 'sneaky'}) RETURN s") == []


def test_transaction_killed_half_way_leaves_database_unchanged(clean):
    """Terminate our write transaction from another session after the first batches ran."""
    with neo4j.GraphDatabase.driver(clean, auth=None) as admin, open_store(clean) as store:
        store.save_graph(hierarchy("base"))
        before = store.query("MATCH (n) RETURN count(n) AS n")[0]["n"]
        bigger = hierarchy(GRAPH)
        original = store._write
        killed = threading.Event()

        def write_then_kill(work):
            def wrapped(tx):
                def tx_and_kill(query, params):
                    rows = tx(query, params)
                    if not killed.is_set() and "UNWIND" in query:  # a node batch is in: now kill the transaction
                        ids = [r["transactionId"] for r in admin.execute_query(
                            "SHOW TRANSACTIONS YIELD transactionId, currentQuery "
                            "WHERE NOT currentQuery STARTS WITH 'SHOW' RETURN transactionId").records]
                        admin.execute_query("TERMINATE TRANSACTIONS $ids", {"ids": ids})
                        killed.set()
                    return rows
                return work(tx_and_kill)
            return original(wrapped)

        store._write = write_then_kill
        with pytest.raises(StoreError, match="nothing was written"):
            store.save_graph(bigger)
        store._write = original
        assert killed.is_set()
        assert store.query("MATCH (n) RETURN count(n) AS n")[0]["n"] == before
        assert [g["name"] for g in store.list_graphs()] == ["base"]
