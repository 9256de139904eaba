"""CounterFact JSONL in and out, and propagation of an abstract parent's edit to its subclasses."""

from __future__ import annotations

import json

import pytest

from stylekg.editing.requests_io import read_requests, write_requests
from stylekg.errors import EditError
from stylekg.pipeline.records import propagation_record
from stylekg.kg import Edge, EdgeType, Node, NodeType, StyleGraph, propagation
from stylekg.requests import EditRequest, RequestKind

CF = {
    "case_id": 7,
    "requested_rewrite": {
        "prompt": "The mother tongue of {} is",
        "subject": "Danielle Darrieux",
        "target_new": {"str": "English"},
        "target_true": {"str": "French"},
    },
    "paraphrase_prompts": ["Danielle Darrieux spoke the language"],
    "neighborhood_prompts": ["The mother tongue of Léon Blum is"],
}


def test_counterfact_jsonl_round_trip(tmp_path) -> None:
    path = tmp_path / "cf.jsonl"
    path.write_text(json.dumps(CF) + "\n\n")
    (req,) = read_requests(path)
    assert req.text == "The mother tongue of Danielle Darrieux is"
    assert (req.target_new, req.target_true, req.case_id) == (" English", " French", "7")
    assert req.paraphrase_prompts == ("Danielle Darrieux spoke the language",)
    erase = EditRequest("{} often says", "Trump", None, " tremendous", kind=RequestKind.ERASE, case_id="e")
    out = write_requests([req, erase], tmp_path / "out.jsonl")
    again = read_requests(out)
    assert [(r.text, r.target_new, r.target_true, r.kind) for r in again] == [
        (req.text, " English", " French", RequestKind.REPLACE),
        ("Trump often says", None, " tremendous", RequestKind.ERASE),
    ]
    array = tmp_path / "cf.json"
    array.write_text(json.dumps([CF, CF]))
    assert len(read_requests(array)) == 2


@pytest.mark.parametrize(
    "line,match",
    [
        ("{not json", r"bad.jsonl:2: not valid JSON"),
        ('{"requested_rewrite": {"subject": "x"}}', r"line 2: CounterFact record is missing 'prompt'"),
        ('{"requested_rewrite": {"prompt": "no slot", "subject": "x", "target_new": {"str": "y"}}}', r"line 2: .*no '\{\}'"),
        ('[1, 2]', r"line 2: expected a JSON object"),
        ('{"requested_rewrite": {"prompt": "{} is", "subject": "x", "target_new": {"str": "y"}}, '
         '"paraphrase_prompts": "abc"}', r"line 2: paraphrase_prompts must be a JSON list"),
        ('{"requested_rewrite": {"prompt": "{} is", "subject": "x", "target_new": {"str": "y"}}, '
         '"neighborhood_prompts": [{"prompt": "z is", "target": 3}]}', r"line 2: .*must be strings"),
        ('{"requested_rewrite": {"prompt": "{} is {}", "subject": "x", "target_new": {"str": "y"}}}', r"line 2: .*2 '\{\}'"),
        ('{"requested_rewrite": {"prompt": "{} is {", "subject": "x", "target_new": {"str": "y"}}}', r"line 2: .*stray brace"),
        ('{"requested_rewrite": {"prompt": "{} is", "subject": "x", "target_new": 5}}', r"line 2: .*target_new must be"),
    ],
)
def test_bad_records_name_the_line(tmp_path, line, match) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(CF) + "\n" + line + "\n")
    with pytest.raises(EditError, match=match):
        read_requests(path)


def _graph() -> StyleGraph:
    """Exaggeration <- Showman (abstract) <- Trump; Exaggeration <- Baron Munchausen; Yoda unrelated."""
    g = StyleGraph("t")
    exaggeration = Node(NodeType.ABSTRACT_STYLE, "Exaggeration")
    showman = Node(NodeType.ABSTRACT_STYLE, "Showman")
    trump, baron, yoda = (Node(NodeType.STYLE, n) for n in ("Trump", "Baron Munchausen", "Yoda"))
    trait = Node(NodeType.TRAIT, "Superlatives")
    marker = Node(NodeType.MARKER, "tremendous")
    g.add_all(
        [exaggeration, showman, trump, baron, yoda, trait, marker],
        [
            Edge(EdgeType.SUBCLASS_OF, showman.id, exaggeration.id),
            Edge(EdgeType.SUBCLASS_OF, trump.id, showman.id),
            Edge(EdgeType.SUBCLASS_OF, baron.id, exaggeration.id),
            Edge(EdgeType.HAS_TRAIT, exaggeration.id, trait.id),
            Edge(EdgeType.EXPRESSED_BY, trait.id, marker.id),
        ],
    )
    return g


def test_subclasses_at_any_depth() -> None:
    g = _graph()
    assert propagation.subclass_styles(g, "Exaggeration") == ["Style:baron-munchausen", "Style:trump"]
    assert propagation.subclass_styles(g, "Showman") == ["Style:trump"]


def test_explicit_expands_to_every_inheriting_subclass_and_implicit_only_probes() -> None:
    g = _graph()
    edge = next(g.edges(EdgeType.EXPRESSED_BY))
    parent = EditRequest("{} often says", "Exaggeration", None, " tremendous", kind=RequestKind.ERASE,
                         edge_id=edge.id, case_id="p")
    expanded = propagation.expand_explicit(g, [parent])
    assert [r.subject for r in expanded] == ["Exaggeration", "Baron Munchausen", "Trump"]
    assert all(r.edge_id == edge.id and r.target_true == " tremendous" for r in expanded)
    assert expanded[2].meta["propagated_from"] == "AbstractStyle:exaggeration"
    probes = propagation.implicit_probes(g, [parent])
    assert sorted(probes) == ["Style:baron-munchausen", "Style:trump"]
    assert probes["Style:trump"][0].text == "Trump often says"
    # a concrete style's own request is not expanded
    own = parent.with_(subject="Yoda", case_id="y")
    assert propagation.expand_explicit(g, [own]) == [own]


def test_fact_overridden_by_a_subclass_is_not_inherited() -> None:
    g = _graph()
    planet, mars = Node(NodeType.ENTITY, "Earth"), Node(NodeType.ENTITY, "Mars")
    g.add_all([planet, mars], [
        Edge(EdgeType.FACT, "AbstractStyle:exaggeration", planet.id, relation="home", template="{} lives on"),
        Edge(EdgeType.FACT, "Style:trump", mars.id, relation="home", template="{} lives on"),
    ])
    fact = next(e for e in g.edges(EdgeType.FACT) if e.source == "AbstractStyle:exaggeration")
    parent = EditRequest("{} lives on", "Exaggeration", " Venus", " Earth", edge_id=fact.id)
    assert [r.subject for r in propagation.expand_explicit(g, [parent])] == ["Exaggeration", "Baron Munchausen"]


def test_parent_edge_requests_have_the_parent_as_subject() -> None:
    g = _graph()
    edge = next(g.edges(EdgeType.EXPRESSED_BY))
    (parent,) = propagation.parent_edge_requests(g, "Exaggeration", "erase")  # one edge, two concrete carriers
    assert parent.text == "People with an exaggeration style often say"  # English, also without a subject property
    assert (parent.edge_id, parent.target_true, parent.subject_id) == (
        edge.id, " tremendous", "AbstractStyle:exaggeration")
    with pytest.raises(EditError, match="abstract style"):
        propagation.parent_edge_requests(g, "Trump", "erase")
    record = propagation_record(method="memit", model="m", graph=g.name, parent_id=g.find("Exaggeration").id,
                                mode="implicit", edited={"AbstractStyle:exaggeration": {"p_old": 0.1}},
                                subclasses={"Style:trump": {"p_old": 0.2}})
    assert [(t.target_id, t.role) for t in record.targets] == [
        ("AbstractStyle:exaggeration", "edited"), ("Style:trump", "subclass")]


def test_neighbours_with_their_own_answers_round_trip(tmp_path) -> None:
    from stylekg.requests import Neighbour

    req = EditRequest("The capital of {} is", "France", " Rome", " Paris",
                      neighborhood_prompts=("The capital of Italy is", Neighbour("The capital of Spain is", " Madrid")))
    path = write_requests([req], tmp_path / "n.jsonl")
    record = json.loads(path.read_text())
    assert record["neighborhood_prompts"][1] == {"prompt": "The capital of Spain is", "target": "Madrid"}
    assert read_requests(path)[0].neighborhood_prompts == req.neighborhood_prompts
