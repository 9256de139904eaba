"""LadybugDB specifics: one writer process per file, schema version and migrations, the default location."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from stylekg.errors import StoreError
from stylekg.kg.stores import SCHEMA_VERSION, cypher_ladybug, default_store_path, open_store
from stylekg.kg.stores import ladybug as ladybug_store
from stylekg.kg.stores.ladybug import LadybugStore

from .graphs import GRAPH, hierarchy, snapshot

HOLDER = textwrap.dedent(
    """
    import sys
    from stylekg.kg.stores import open_store
    with open_store(sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.read()
    """
)


def test_second_writer_process_gets_a_clear_error(tmp_path):
    path = tmp_path / "graph.lbug"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreError) as info:
            open_store(path)
        message = str(info.value)
        assert str(path) in message and "another process" in message and "--store" in message
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with open_store(path) as store:  # released once the other process has closed it
        assert store.list_graphs() == []


def test_data_survives_reopen(tmp_path):
    path = tmp_path / "graph.lbug"
    with open_store(path) as store:
        store.save_graph(hierarchy())
    with open_store(str(path)) as store:
        assert snapshot(store.load_graph(GRAPH)) == snapshot(hierarchy())


def test_default_store_lives_in_stylekg_home(home):
    assert default_store_path() == home / "graph.lbug"
    with open_store(None) as store:
        assert isinstance(store, LadybugStore) and store.path == home / "graph.lbug"
    assert (home / "graph.lbug").is_file()


def test_schema_migration_hook_runs_once(tmp_path, monkeypatch):
    path = tmp_path / "graph.lbug"
    with open_store(path) as store:
        store.save_graph(hierarchy())
    now = SCHEMA_VERSION
    monkeypatch.setattr(ladybug_store, "SCHEMA_VERSION", now + 1)
    monkeypatch.setitem(cypher_ladybug.MIGRATIONS, now, ("CREATE NODE TABLE MigrationProbe(k STRING PRIMARY KEY)",))
    with open_store(path) as store:
        assert store.query(*cypher_ladybug.get_meta("schema_version")) == [{"value": str(now + 1)}]
        assert store.query("CALL show_tables() WHERE name = 'MigrationProbe' RETURN name") == [{"name": "MigrationProbe"}]
        assert snapshot(store.load_graph(GRAPH)) == snapshot(hierarchy())
    with open_store(path):  # already upgraded: the migration (a plain CREATE) would fail if it ran again
        pass
    monkeypatch.setattr(ladybug_store, "SCHEMA_VERSION", now)
    with pytest.raises(StoreError, match=f"schema v{now + 1}, newer than this stylekg"):
        open_store(path)


def test_v1_store_loses_its_stored_counts(tmp_path):
    """Schema v1 kept node/edge counts on the Graph node (they went stale after --write); v2 derives them."""
    path = tmp_path / "graph.lbug"
    with open_store(path) as store:
        store.save_graph(hierarchy())
        store._write(lambda tx: [tx(q, {}) for q in (
            "ALTER TABLE Graph ADD node_count INT64 DEFAULT 99", "ALTER TABLE Graph ADD edge_count INT64 DEFAULT 99")])
        store._write(lambda tx: tx(*cypher_ladybug.set_meta("schema_version", "1")))
    with open_store(path, read_only=True) as store:  # read-only: read as it is, upgrade nothing
        assert store.list_graphs()[0]["nodes"] == 11
        assert store.query(*cypher_ladybug.get_meta("schema_version")) == [{"value": "1"}]
    with open_store(path) as store:
        assert store.query(*cypher_ladybug.get_meta("schema_version")) == [{"value": str(SCHEMA_VERSION)}]
        assert store.query("CALL table_info('Graph') WHERE name = 'node_count' RETURN name") == []
        assert (store.list_graphs()[0]["nodes"], store.list_graphs()[0]["edges"]) == (11, 10)


def test_bad_store_specs(tmp_path, monkeypatch):
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path)
    with pytest.raises(StoreError, match="unknown store URI"):
        open_store("http://localhost:7474")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    with pytest.raises(StoreError, match="NEO4J_URI"):
        open_store("neo4j")
