"""The preserved set (kg/preserved.py): built from the graph and known facts only, never an edited prompt."""

from __future__ import annotations

import pytest

from stylekg.kg.graph import StyleGraph
from stylekg.kg.library import load_library
from stylekg.kg.material import PLAIN_SUBJECT
from stylekg.kg.planner import plan
from stylekg.kg.preserved import (
    facts_from_counterfact,
    graph_preserved,
    merge_preserved,
    preserved_from_facts,
)
from stylekg.kg.schema import Edge, EdgeType, Node, NodeType
from stylekg.kg.to_requests import to_edit_requests
from stylekg.requests import EditRequest, Neighbour, Preserved, PreservedKind


@pytest.fixture(scope="module")
def lib():
    return load_library()


def _capitals() -> StyleGraph:
    g = StyleGraph("capitals")
    nodes = [Node(NodeType.STYLE, n) for n in ("Alice", "Bob", "Carol")]
    nodes += [Node(NodeType.ENTITY, n) for n in ("Paris", "Rome", "Oslo", "Red")]
    g.add_all(nodes, [
        Edge(EdgeType.FACT, "Style:alice", "Entity:paris", relation="city", template="{} lives in"),
        Edge(EdgeType.FACT, "Style:alice", "Entity:red", relation="colour", template="The favourite colour of {} is"),
        Edge(EdgeType.FACT, "Style:bob", "Entity:rome", relation="city", template="{} lives in"),
        Edge(EdgeType.FACT, "Style:carol", "Entity:oslo", relation="city", template="{} lives in"),
    ])
    return g


def _check(items: tuple[Preserved, ...], requests: list[EditRequest]) -> None:
    """Never an edited (subject, template) pair, never a request's own prompt, prompts unique."""
    edited = {(r.subject, r.prompt) for r in requests}
    assert not {p.prompt for p in items} & {r.text for r in requests}
    assert not {(p.subject, p.prompt.replace(p.subject, "{}", 1)) for p in items if p.subject} & edited
    assert len({p.prompt for p in items}) == len(items)


def test_a_fact_edit_keeps_the_subjects_other_facts_and_the_relations_other_subjects():
    g = _capitals()
    requests = to_edit_requests(g, "FACT[city]:Style:alice->Entity:paris", "replace", new_target="Lima")
    items = graph_preserved(g, requests)
    _check(items, requests)
    got = [(p.kind, p.prompt, p.target) for p in items]
    assert got == [
        (PreservedKind.SUBJECT_FACT, "The favourite colour of Alice is", " Red"),
        (PreservedKind.TEMPLATE, "Bob lives in", " Rome"),
        (PreservedKind.TEMPLATE, "Carol lives in", " Oslo"),
    ]
    assert items[0].source == "FACT[colour]:Style:alice->Entity:red"
    assert items[0].as_request().target_true == " Red"  # key and value code reads it as a request


def test_a_style_erase_keeps_other_styles_markers_neutral_forms_and_its_facts(lib):
    p = plan(lib, "Yoda", markers_only=None, max_markers=2)
    _check(p.preserved, p.requests)
    kinds = {item.kind for item in p.preserved}
    assert kinds == {PreservedKind.SUBJECT_FACT, PreservedKind.STYLE_MARKER, PreservedKind.NEUTRAL_FORM}
    assert ("In exile, Yoda lived on the planet", " Dagobah") in {(i.prompt, i.target) for i in p.preserved}
    neutral = [i for i in p.preserved if i.kind is PreservedKind.NEUTRAL_FORM]
    assert neutral[0].prompt == "Word order reversed, a plain writer said:" and neutral[0].subject == PLAIN_SUBJECT
    others = {i.subject for i in p.preserved if i.kind is PreservedKind.STYLE_MARKER}
    judged = {r.subject for r in p.unrelated}
    assert "Yoda" not in others and not others & judged and len(others) >= 10  # the unrelated styles are judged
    assert plan(lib, "Yoda", markers_only=None, max_markers=2).preserved == p.preserved  # deterministic


def test_the_cap_lets_the_kinds_take_turns(lib):
    p = plan(lib, "Yoda", markers_only=None, max_markers=2, preserved_limit=3)
    assert [i.kind for i in p.preserved] == [PreservedKind.SUBJECT_FACT, PreservedKind.STYLE_MARKER,
                                            PreservedKind.NEUTRAL_FORM]
    assert plan(lib, "Yoda", preserved_limit=0).preserved == ()


def test_implicit_propagation_does_not_preserve_what_it_probes(lib):
    p = plan(lib, "Exaggeration", propagate="implicit")
    probed = {r.text for r in p.probe_list}
    assert p.preserved and not {i.prompt for i in p.preserved} & probed
    assert not {i.subject for i in p.preserved if i.kind is PreservedKind.STYLE_MARKER} & {
        lib.node(s).name for s in p.subclasses}


def test_the_preserved_set_is_built_only_from_the_graph_and_the_facts_given(lib):
    """Judged prompts (neighbourhood, paraphrase, alias) on the requests change nothing."""
    g = _capitals()
    requests = to_edit_requests(g, "FACT[city]:Style:alice->Entity:paris", "replace", new_target="Lima")
    judged = [r.with_(neighborhood_prompts=(*r.neighborhood_prompts, "Dave lives in", Neighbour("Eve lives in", "Bern")),
                      paraphrase_prompts=("Alice resides in",), alias_prompts=("Ally lives in",)) for r in requests]
    facts = [("Alice", "{} was born in", "Lyon"), ("Zed", "{} lives in", "Kyiv")]
    assert graph_preserved(g, judged) == graph_preserved(g, requests)
    assert preserved_from_facts(judged, facts) == preserved_from_facts(requests, facts)
    yoda = plan(lib, "Yoda", markers_only=None, max_markers=2).requests
    noisy = [r.with_(neighborhood_prompts=("In exile, Yoda lived on the planet",)) for r in yoda]
    assert graph_preserved(lib, noisy) == graph_preserved(lib, yoda)


def test_preserved_from_known_facts():
    request = EditRequest("The capital of {} is", "France", " Rome", " Paris")
    records = [
        {"requested_rewrite": {"prompt": "The capital of {} is", "subject": "France", "target_true": {"str": "Paris"}}},
        {"requested_rewrite": {"prompt": "{} is a country in", "subject": "France", "target_true": {"str": "Europe"}}},
        {"requested_rewrite": {"prompt": "The capital of {} is", "subject": "Spain", "target_true": {"str": "Madrid"}}},
        {"requested_rewrite": {"prompt": "{} was written by", "subject": "Hamlet", "target_true": {"str": "Shakespeare"}}},
    ]
    facts = facts_from_counterfact(records)
    assert facts[0] == ("France", "The capital of {} is", "Paris")
    items = preserved_from_facts([request], facts, "known.jsonl")
    _check(items, [request])
    assert [(i.kind, i.prompt, i.target, i.source) for i in items] == [
        (PreservedKind.SUBJECT_FACT, "France is a country in", " Europe", "known.jsonl:1"),
        (PreservedKind.TEMPLATE, "The capital of Spain is", " Madrid", "known.jsonl:2"),
    ]
    assert len(preserved_from_facts([request], facts * 5, limit=1)) == 1


def test_merge_drops_held_out_prompts_and_duplicates():
    request = EditRequest("{} lives in", "Alice", " Lima", " Paris")
    a = Preserved("Bob lives in", " Rome", PreservedKind.TEMPLATE, "Bob")
    b = Preserved("Carol lives in", " Oslo", PreservedKind.TEMPLATE, "Carol")
    own = Preserved("Alice lives in", " Paris", PreservedKind.SUBJECT_FACT, "Alice")
    assert merge_preserved([[a, own, a], [b]], [request]) == (a, b)
    assert merge_preserved([[a, b]], [request], held_out=["Bob lives in"]) == (b,)
