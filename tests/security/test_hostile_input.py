"""Issue 25: hostile input stays data. One case per item of the issue, each named after it; every one failed before
the fix (the store cases run on LadybugDB and on a real Neo4j where the item applies).

1. the read-only guard let ``UPDATE <extension>`` through;  2. terminal escapes from names and LLM answers;
3. ``query --write`` committed schema damage;  4. non-finite numbers were stored;  5. secrets in error messages;
6. unbounded inputs;  7. quadratic loading of graphs naming edge ends by name;  8. ``shared-parent`` stopped at 30.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylekg.cli import app
from stylekg.errors import EditError, LLMError, StoreError, redact
from stylekg.kg.graph import StyleGraph
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType
from stylekg.kg.stores import open_store
from stylekg.kg.stores.base import SCHEMA_VERSION
from stylekg.kg.stores.readonly import StatementKind
from tests.llm_server import recorded_llm_server
from tests.stores.graphs import edit_run, hierarchy

runner = CliRunner()
CONTROL = ("\x1b", "\x07", "\x9b")  # ESC, BEL and the one-byte CSI: none may reach the terminal from data
EVIL = "evil\x1b]0;PWNED\x07\x1b[2J\x9b31m"


def _cli(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    """A LadybugDB store holding the test hierarchy ``g`` and one run (closed again)."""
    path = tmp_path / "s.lbug"
    with open_store(path) as store:
        graph = hierarchy("g")
        store.save_graph(graph)
        store.write_run(edit_run("run-1", graph, "2026-01-01T00:00:00+00:00", 0.9, 0.8))
    return path


def store_kind_of(store) -> str:
    return "ladybug" if type(store).__name__ == "LadybugStore" else "neo4j"


# ---- 1. the read-only guard ----------------------------------------------------------------------------------

def test_1_update_extension_is_refused_and_fetches_nothing(saved, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # LadybugDB installs extensions under ~/.lbdb
    for extra in ([], ["--write"]):
        result = _cli("query", "UPDATE json", "--store", str(saved), *extra)
        assert result.exit_code != 0 and isinstance(result.exception, StoreError)
        assert "UPDATE" in str(result.exception)
        assert ("never runs" if extra else "refused even with --write") in str(result.exception)
    assert not (tmp_path / ".lbdb").exists()


def test_1_the_database_classifies_each_statement(store):
    """The guard's second line is the database's own reading (LadybugDB's plan, Neo4j's query type)."""
    store.save_graph(hierarchy("g"))
    kind = store._statement_kind
    assert kind("MATCH (s:Style) RETURN s.name ORDER BY s.name LIMIT 2", {}, False)[0] is StatementKind.READ
    assert kind("MATCH (s:Style) SET s.description = $d", {"d": "x"}, True)[0] is StatementKind.WRITE
    ddl = ("ALTER TABLE Style ADD extra STRING" if store_kind_of(store) == "ladybug"
           else "CREATE INDEX hostile_idx IF NOT EXISTS FOR (n:Style) ON (n.name)")
    assert kind(ddl, {}, True)[0] is StatementKind.SCHEMA
    with pytest.raises(StoreError, match="read-only"):  # a write the keyword list cannot see is still refused
        store.query("MATCH (s:Style) SET s.description = $d", {"d": "x"})


def test_1_one_statement_per_query(saved):
    result = _cli("query", "MATCH (n:Style) RETURN n.name; MATCH (n) DETACH DELETE n", "--store", str(saved),
                  "--write")
    assert isinstance(result.exception, StoreError) and "more than one statement" in str(result.exception)
    with open_store(saved, read_only=True) as store:
        assert len(store.load_graph("g")) == 11


# ---- 2. terminal escapes --------------------------------------------------------------------------------------

def test_2_terminal_escapes_in_names_never_reach_the_terminal(tmp_path):
    path = tmp_path / "evil.lbug"
    with open_store(path) as store:
        store.save_graph(hierarchy(EVIL))
    for args in (("kg", "graphs"), ("query", "MATCH (g:Graph) RETURN g.name AS name"), ("kg", "load", EVIL)):
        result = _cli(*args, "--store", str(path))
        assert result.exit_code == 0, result.output
        assert "evil\\x1b]0;PWNED\\x07" in result.output  # shown, as visible escapes
        assert not any(c in result.output for c in CONTROL), repr(result.output)


def test_2_the_console_escapes_control_characters_on_a_real_terminal():
    import io

    from rich.table import Table

    from stylekg.commands.common import SafeConsole, esc, printable

    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, width=200)
    table = Table("name")
    table.add_row(EVIL)
    console.print(table)
    console.print(f"[bold]{esc(EVIL)}[/] and raw {EVIL}")
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x07" not in text and "\x1b[2J" not in text and "\x9b" not in text
    assert "\x1b[1m" in text  # rich's own styles still work
    assert printable("a\tb\nc\u202ed") == "a\tb\nc\\u202ed"


def test_2_graph_formats_are_exact_in_a_file_and_escaped_on_a_terminal(capsys):
    from stylekg.commands.common import echo_data
    from stylekg.kg.io import dumps

    graph = StyleGraph("g")
    graph.add_node(Node(NodeType.STYLE, EVIL))
    turtle = dumps(graph, "turtle")
    assert "\x1b" in turtle  # rdflib writes the control characters as they are
    echo_data(turtle, terminal=False)
    assert capsys.readouterr().out == turtle
    echo_data(turtle, terminal=True)
    shown = capsys.readouterr().out
    assert "evil\\x1b]0;PWNED\\x07" in shown and not any(c in shown for c in CONTROL)


def test_2_an_llm_parent_name_cannot_clear_the_screen(home):
    from stylekg.kg.llm.library_client import LibraryClient

    record = LibraryClient()._record("Carl Sagan")
    record["parents"][0]["name"] = "Cosmic\x1b[2J\x1b[H wonder\x07"
    with recorded_llm_server([{"content": json.dumps(record)}]) as server:
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1", "OPENAI_API_KEY": "sk-test",
               "STYLEKG_HOME": str(home)}
        result = _cli("kg", "decompose", "Carl Sagan", "--model", "m", env=env)
    assert result.exit_code == 0, result.output
    assert "Cosmic\\x1b[2J" in result.output
    assert not any(c in result.output for c in CONTROL), repr(result.output)


# ---- 3. --write accepts data changes only ----------------------------------------------------------------------

def _damage(kind: str) -> list[str]:
    if kind == "ladybug":
        return ["ALTER TABLE Style DROP description", "DROP TABLE MEASURED", "CREATE NODE TABLE Evil(k STRING, "
                "PRIMARY KEY(k))", "COMMENT ON TABLE Style IS 'x'"]
    return ["DROP CONSTRAINT stylekg_style_key", "CREATE INDEX hostile_idx FOR (n:Style) ON (n.description)"]


def test_3_write_refuses_schema_changes_and_stylekg_metadata(store):
    graph = hierarchy("g")
    store.save_graph(graph)
    store.write_run(edit_run("run-1", graph, "2026-01-01T00:00:00+00:00", 0.9, 0.8))
    for cypher in _damage(store_kind_of(store)):
        with pytest.raises(StoreError, match="schema change"):
            store.query(cypher, write=True)
    for cypher in ("MATCH (m:StyleKGMeta) SET m.value = '99'", "MATCH (m:StyleKGMeta) DELETE m",
                   "CREATE (:StyleKGMeta {name: 'other', value: 'x'})"):
        with pytest.raises(StoreError, match="own metadata"):
            store.query(cypher, write=True)
    # nothing changed: the graph loads, the run keeps its metrics, the schema version stands
    assert len(store.load_graph("g")) == 11
    assert store.load_run("run-1").targets and store.load_run("run-1").targets[0].metrics
    assert store.query("MATCH (m:StyleKGMeta) RETURN m.value AS v") == [{"v": str(SCHEMA_VERSION)}]
    # data changes still run
    store.query("MATCH (s:Style) WHERE s.graph = 'g' SET s.description = 'changed'", write=True)
    assert {n.description for n in store.load_graph("g").nodes(NodeType.STYLE)} == {"changed"}


def test_3_cli_write_of_ddl_exits_2_and_the_store_still_works(saved):
    cmd = [sys.executable, "-m", "stylekg.cli", "query", "ALTER TABLE Style DROP description", "--write",
           "--store", str(saved)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "schema change" in proc.stderr
    assert _cli("kg", "load", "g", "--store", str(saved)).exit_code == 0


# ---- 4. non-finite numbers -------------------------------------------------------------------------------------

def test_4_non_finite_numbers_are_never_stored(store):
    with pytest.raises(ValueError, match="not a finite number"):
        Edge(EdgeType.HAS_TRAIT, "a", "b", weight=float("nan"))
    graph = hierarchy("g")
    next(graph.edges(EdgeType.HAS_TRAIT)).weight = float("nan")  # changed after the graph checked it
    with pytest.raises(StoreError, match="not a finite number"):
        store.save_graph(graph)
    assert not store.list_graphs()  # nothing was written, not even the header
    graph = hierarchy("g")
    next(graph.nodes(NodeType.TRAIT)).properties["score"] = float("inf")
    with pytest.raises(StoreError, match="not finite"):
        store.save_graph(graph)
    store.save_graph(hierarchy("g"))
    graph = hierarchy("g")  # an upsert onto a stored graph (no merge check) is checked too
    next(graph.edges(EdgeType.HAS_TRAIT)).weight = float("-inf")
    with pytest.raises(StoreError, match="not a finite number"):
        store.save_graph(graph)
    assert next(store.load_graph("g").edges(EdgeType.HAS_TRAIT)).weight == 0.75


def test_4_kg_save_of_a_nan_weight_exits_2_and_query_json_stays_json(tmp_path, saved):
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps({"format": "stylekg-graph", "version": 1, "name": "n", "nodes": [
        {"type": "AbstractStyle", "name": "A"}, {"type": "Trait", "name": "T"}],
        "edges": [{"type": "HAS_TRAIT", "source": "A", "target": "T", "weight": float("nan")}]}))
    assert "NaN" in bad.read_text()
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "save", str(bad), "--graph", "n", "--store",
                           str(saved)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 2 and "finite" in proc.stderr, proc.stderr
    with open_store(saved) as store:  # a metric a run could not compute is NaN: --json prints null, never NaN
        graph = store.load_graph("g")
        store.write_run(edit_run("run-nan", graph, "2026-01-02T00:00:00+00:00", float("nan"), 0.5))
    result = _cli("query", "MATCH (r:Run)-[m:MEASURED]->() WHERE r.id = 'run-nan' RETURN m.value AS v", "--store",
                  str(saved), "--json")
    rows = json.loads(result.output, parse_constant=lambda c: pytest.fail(f"bare {c} in --json output"))
    assert None in [r["v"] for r in rows]


# ---- 5. secrets ------------------------------------------------------------------------------------------------

def test_5_endpoint_urls_with_credentials_are_refused_and_messages_redacted(home):
    from stylekg.kg.llm.openai_client import OpenAIClient

    for url in ("http://user:pass@127.0.0.1:9/v1", "http://127.0.0.1:9/v1?api-key=qk-123"):
        with pytest.raises(LLMError, match="OPENAI_API_KEY") as info:
            OpenAIClient("m", base_url=url, api_key="x")
        assert not any(s in str(info.value) for s in ("user:", "pass@", "qk-123"))
    line = ("GET http://user:pass@host/v1/models?api-key=qk-123&x=1 auth=Basic dXNlcjpwYXNz "
            "Authorization: Bearer sk-abcdefghijklmnop")
    clean = redact(line)
    assert not any(s in clean for s in ("user:pass", "qk-123", "dXNlcjpwYXNz", "sk-abcdefghijklmnop"))
    assert "http://<redacted>@host/v1/models" in clean and "x=1" in clean
    env = {"OPENAI_BASE_URL": "http://user:pass@127.0.0.1:9/v1?api-key=qk-123", "OPENAI_API_KEY": "sk-test",
           "STYLEKG_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "decompose", "X", "--model", "m"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "OPENAI_API_KEY" in proc.stderr
    assert "qk-123" not in proc.stderr and "user:pass" not in proc.stderr


# ---- 6. unbounded inputs ---------------------------------------------------------------------------------------

def test_6_sizes_are_checked_before_parsing(tmp_path, home):
    from stylekg.editing.requests_io import read_requests
    from stylekg.kg.llm.client import MAX_ANSWER_CHARS, MAX_ECHO_CHARS
    from stylekg.kg.llm.openai_client import OpenAIClient

    big = tmp_path / "big.jsonl"
    record = {"requested_rewrite": {"prompt": "{} says", "subject": "x" * 10_000_000, "target_new": {"str": " y"}}}
    big.write_text(json.dumps(record) + "\n")
    start = time.perf_counter()
    with pytest.raises(EditError, match="characters") as info:
        read_requests(big)
    assert time.perf_counter() - start < 5 and len(str(info.value)) < 500
    small = tmp_path / "field.jsonl"
    record["requested_rewrite"]["subject"] = "x" * 20_000
    small.write_text(json.dumps(record) + "\n")
    with pytest.raises(EditError, match="more than 10000") as info:
        read_requests(small)
    assert len(str(info.value)) < 500
    # an LLM answer: a huge invalid value is quoted short and the re-asks never send it back whole
    schema = {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "enum": ["a"]}}}
    huge = json.dumps({"kind": "z" * 2_000_000})
    with recorded_llm_server([{"content": huge}] * 3) as server:
        client = OpenAIClient("m", base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="x")
        with pytest.raises(LLMError) as info:
            client.complete_json("TASK: x", schema)
        sent = [len(json.dumps(r["body"])) for r in server.requests]
    assert len(str(info.value)) < 1000 and len(sent) == 3 and max(sent) < 3 * MAX_ECHO_CHARS + 5000
    # an answer over the cap is refused unread; a long string fails the schema: neither is cached
    description = {"type": "object", "required": ["d"], "properties": {"d": {"type": "string"}}}
    with recorded_llm_server([{"content": json.dumps({"d": "w" * (MAX_ANSWER_CHARS + 1)})},
                              {"content": json.dumps({"d": "w" * 50_000})}]) as server:
        client = OpenAIClient("m", base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="x", max_retries=1)
        with pytest.raises(LLMError, match="longer than 4000"):
            client.complete_json("TASK: d", description)
    assert not list((home / "llm").glob("*.json"))


# ---- 7. quadratic loading ---------------------------------------------------------------------------------------

def test_7_edges_naming_their_ends_by_name_load_in_linear_time():
    from stylekg.kg.jsonform import from_dict

    def build(n: int) -> float:
        nodes = [{"type": "Style", "name": f"Style {i}"} for i in range(n)]
        nodes += [{"type": "Alias", "name": f"Alias {i}"} for i in range(n)]
        edges = [{"type": "ALIAS_OF", "source": f"Alias {i}", "target": f"Style {i}"} for i in range(n)]
        start = time.perf_counter()
        graph = from_dict({"format": "stylekg-graph", "version": 1, "name": "big", "nodes": nodes, "edges": edges})
        assert graph.number_of_edges() == n
        return time.perf_counter() - start

    small, large = build(2_000), build(16_000)
    assert large < 8 * small * 3, (small, large)  # 8x the size: about 8x the time (quadratic was 64x)
    graph = StyleGraph("g")
    graph.add_node(Node(NodeType.STYLE, "Captain Jack"))
    graph.add_node(Node(NodeType.ALIAS, "The Captain"))
    graph.remove_node("Style:captain-jack")
    graph.add_node(Node(NodeType.STYLE, "Captain  JACK", id="Style:cj"))
    assert [n.id for n in graph.named("captain jack")] == ["Style:cj"]  # the index follows every mutation


# ---- 8. shared-parent at any depth ------------------------------------------------------------------------------

def test_8_shared_parent_reaches_any_depth(store, tmp_path):
    graph = StyleGraph("deep")
    levels = [Node(NodeType.ABSTRACT_STYLE, f"Level {i}") for i in range(40)]
    leaf = Node(NodeType.STYLE, "Leaf")
    graph.add_all([*levels, leaf], [Edge(EdgeType.SUBCLASS_OF, levels[i + 1].id, levels[i].id) for i in range(39)]
                  + [Edge(EdgeType.SUBCLASS_OF, leaf.id, levels[39].id)])
    store.save_graph(graph)
    from stylekg.kg import queries

    rows = queries.shared_parent_styles(store, "deep", "Level 0")
    assert rows == [{"id": leaf.id, "name": "Leaf", "depth": 40}]


def test_8_shared_parent_cli_on_a_40_level_chain(tmp_path):
    graph = StyleGraph("deep")
    levels = [Node(NodeType.ABSTRACT_STYLE, f"Level {i}") for i in range(40)]
    leaf = Node(NodeType.STYLE, "Leaf")
    graph.add_all([*levels, leaf], [Edge(EdgeType.SUBCLASS_OF, levels[i + 1].id, levels[i].id) for i in range(39)]
                  + [Edge(EdgeType.SUBCLASS_OF, leaf.id, levels[39].id)])
    path = tmp_path / "deep.lbug"
    with open_store(path) as store:
        store.save_graph(graph)
    result = _cli("query", "shared-parent", "Level 0", "--graph", "deep", "--store", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert [r["depth"] for r in json.loads(result.output)] == [40]
