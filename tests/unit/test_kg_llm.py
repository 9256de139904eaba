"""LLM decomposition machinery without a network: JSON repair, schema checks, library provider,
linking to existing parents, atomic merges, and schema-guided decoding on the tiny model."""

from __future__ import annotations

import json

import pytest

from stylekg.errors import LLMError
from stylekg.kg import Node, NodeType, StyleGraph
from stylekg.kg.jsonform import to_dict
from stylekg.kg.library import load_library
from stylekg.kg.llm import DECOMPOSITION_SCHEMA, auto, check_schema, decompose, make_client, parse_json, repair_json
from stylekg.kg.llm.decompose import check_record, norm_name
from stylekg.kg.llm.library_client import LibraryClient


@pytest.mark.parametrize("text,value", [
    ('{"a": "b", "c"', {"a": "b"}),
    ('{"a": ["x", "y', {"a": ["x", "y"]}),
    ('```json\n{"a": {"b": 1,\n', {"a": {"b": 1}}),
    ('Sure! {"a": [1, 2,]}', {"a": [1, 2]}),
    ('{"a": "say \\"hi', {"a": 'say "hi'}),
])
def test_repair_truncated_json(text, value):
    assert json.loads(repair_json(text)) == value
    assert parse_json(text) == (value, True)


def test_unrepairable_json_names_line():
    with pytest.raises(ValueError, match="line 2"):
        parse_json('{"a": 1,\n  nonsense here}')


def test_schema_check_names_path():
    record = LibraryClient()._record("Carl Sagan")
    check_schema(record, DECOMPOSITION_SCHEMA)
    bad = json.loads(json.dumps(record))
    bad["traits"][0]["markers"][0]["kind"] = "emoji"
    with pytest.raises(ValueError, match=r"\$\.traits\[0\]\.markers\[0\]\.kind"):
        check_schema(bad, DECOMPOSITION_SCHEMA)
    bad = json.loads(json.dumps(record))
    bad["facts"][0]["template"] = "was born in"
    with pytest.raises(ValueError, match=r"\$\.facts\[0\]\.template"):
        check_schema(bad, DECOMPOSITION_SCHEMA)
    bad = json.loads(json.dumps(record))
    bad["traits"][0]["markers"][0]["neutral"] = bad["traits"][0]["markers"][0]["text"]
    with pytest.raises(ValueError, match="neutral form equals"):
        check_record(bad)


def test_norm_name_matches_loose_variants():
    assert norm_name("Exaggerations") == norm_name("exaggeration") == norm_name("The exaggeration style")
    assert norm_name("Folksy warmth") != norm_name("Cosmic wonder")


def test_library_decomposition_links_to_existing_parents():
    base = StyleGraph("base")
    base.add_node(Node(NodeType.ABSTRACT_STYLE, "Cosmic Wonders", "user-made parent"))
    graph, result = decompose("Carl Sagan", LibraryClient(), base)
    assert result.linked_parents == {"Cosmic wonder": "AbstractStyle:cosmic-wonders"}
    assert graph.out_edges("Style:carl-sagan")[0]  # merged in place
    parents = [e.target for e in graph.out_edges("Style:carl-sagan") if e.type.value == "SUBCLASS_OF"]
    assert parents == ["AbstractStyle:cosmic-wonders"]
    assert graph.node("Style:carl-sagan").provenance.detail.startswith("library:builtin prompt:")
    assert "AbstractStyle:cosmic-wonders" not in result.added_nodes


def test_failed_decomposition_leaves_graph_unchanged():
    base = load_library()
    before = to_dict(base)
    with pytest.raises(LLMError, match="no library style named 'Nobody Special'"):
        decompose("Nobody Special", LibraryClient(), base)
    assert to_dict(base) == before


def test_auto_expands_and_merges():
    graph, result = auto("American talk-show hosts", make_client("library"), StyleGraph("talk"))
    assert result.styles[0] == "Oprah Winfrey" and not result.failed
    assert "Style:oprah-winfrey" in graph and len(result.added_nodes) == len(graph)
    shared = {e.target for e in graph.edges() if e.type.value == "SUBCLASS_OF"}
    assert "AbstractStyle:inspirational-uplift" in shared  # both styles hang off one parent node


JUDGE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["verdict", "reason", "tags", "confident"],
    "properties": {"verdict": {"type": "string", "enum": ["styled", "neutral"]}, "reason": {"type": "string", "minLength": 1},
                   "tags": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string", "minLength": 1}},
                   "confident": {"type": "boolean"}},
}


def test_guided_decoding_is_valid_by_construction(tiny):
    from stylekg.kg.llm.local import LocalClient

    client = LocalClient("tiny-gpt2", lm=tiny, max_retries=0)
    value = client.complete_json("Is this styled? 'Strong you are.'", JUDGE_SCHEMA)
    check_schema(value, JUDGE_SCHEMA)
    assert value["verdict"] in ("styled", "neutral") and len(value["tags"]) == 2
    assert client.calls == 1 and client.reasks == 0 and client.steps > 5
