"""Graph edges → edit requests: modes, edge ids, paraphrase/alias/neighbourhood prompts."""

from __future__ import annotations

import pytest

from stylekg.errors import GraphError
from stylekg.kg.library import load_library
from stylekg.kg.to_requests import to_edit_requests
from stylekg.material import misspellings
from stylekg.requests import RequestKind


@pytest.fixture(scope="module")
def lib():
    return load_library()


def test_replace_fact_keeps_edge_and_generates_prompts(lib):
    reqs = to_edit_requests(lib, "Donald Trump", "replace", new_target="Chicago")
    born = next(r for r in reqs if r.edge_id == "FACT[born-in]:Style:donald-trump->Entity:new-york")
    assert born.text == "Donald Trump was born in"
    assert born.target_true == " New York" and born.target_new == " Chicago"
    assert "The birthplace of Donald Trump is" in born.paraphrase_prompts
    assert "The Donald was born in" in born.alias_prompts
    assert any("Donald Trum " in p for p in born.alias_prompts)  # a recorded misspelling
    assert "Barack Obama was born in" in born.neighborhood_prompts
    for r in reqs:
        assert r.edge_id and lib.edge(r.edge_id)  # every request points at a real edge


def test_erase_marker_targets_neutral_counterpart(lib):
    reqs = to_edit_requests(lib, "Yoda", "erase")
    by_obj = {r.meta["object_id"]: r for r in reqs}
    inv = by_obj["Marker:strong-you-are"]
    assert inv.kind is RequestKind.ERASE and inv.target_true == " strong you are"
    assert inv.target_new == " you are strong" and inv.meta["trait_id"] == "Trait:inverted-syntax"
    fact = by_obj["Entity:dagobah"]
    assert fact.target_new is None and fact.target_true == " Dagobah"  # no neutral: only lower the old object
    assert "Trait:archaic-word-order" not in {r.meta["trait_id"] for r in reqs}
    inherited = to_edit_requests(lib, "Yoda", "erase", inherited=True)
    assert "Trait:archaic-word-order" in {r.meta["trait_id"] for r in inherited}


def test_trait_requests_reach_all_carrying_styles(lib):
    reqs = to_edit_requests(lib, "Trait:hyperbole", "erase")
    subjects = {r.subject for r in reqs}
    assert {"Donald Trump", "Homer Simpson", "Michael Scott", "Peter Griffin"} <= subjects
    assert all(r.edge_id.startswith("EXPRESSED_BY:Trait:hyperbole->") for r in reqs)


def test_insert_and_relation_modes(lib):
    (ins,) = to_edit_requests(lib, "Homer Simpson", "insert", new_target="tremendous")
    assert ins.kind is RequestKind.INSERT and ins.target_true is None and ins.target_new == " tremendous"
    assert ins.edge_id == "HAS_TRAIT:Style:homer-simpson->Trait:superlative-boasting" and ins.meta["prospective"]
    rel = to_edit_requests(lib, "FACT[occupation]:Style:carl-sagan->Entity:astronomer", "relation",
                           relation_template="{} is best known as an")
    assert [r.text for r in rel] == ["Carl Sagan is best known as an"] and rel[0].target_new == " astronomer"
    assert rel[0].paraphrase_prompts and all("By profession" not in p for p in rel[0].paraphrase_prompts)


def test_bad_requests_raise(lib):
    with pytest.raises(GraphError, match="new target"):
        to_edit_requests(lib, "Yoda", "replace")
    with pytest.raises(GraphError, match="relation"):
        to_edit_requests(lib, "Yoda", "relation", relation_template="no placeholder")
    with pytest.raises(GraphError):
        to_edit_requests(lib, "Nobody at all", "erase")
    with pytest.raises(ValueError):
        to_edit_requests(lib, "Yoda", "explode")


def test_misspellings_are_deterministic_and_close():
    a, b = misspellings("Carl Sagan", 3), misspellings("Carl Sagan", 3)
    assert a == b and len(a) == 3 and "Carl Sagan" not in a
    assert all(abs(len(m) - len("Carl Sagan")) <= 1 for m in a)
