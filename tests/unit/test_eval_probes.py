"""Generalisation probes: aliases, misspellings and the trait-edit (Yoda) protocol."""

from __future__ import annotations

import pytest
import torch

from stylekg.editing.result import EditResult
from stylekg.errors import EvaluationError
from stylekg.evaluation.probes import (
    TraitProbe,
    compare_models,
    run_protocol,
    with_aliases,
    yoda_probe,
)
from stylekg.kg.library import library_material
from stylekg.material import misspellings
from stylekg.requests import EditRequest


def test_misspellings_are_deterministic_near_copies():
    a, b = misspellings("Yoda", 3), misspellings("Yoda", 3)
    assert a == b and len(a) == 3 and "Yoda" not in a
    assert all(w[0] == "Y" and abs(len(w) - 4) <= 1 for w in a)
    assert all(m.endswith(" Trump") and m != "Donald Trump" for m in misspellings("Donald Trump"))  # longest word edited
    assert misspellings("Al") == []
    with pytest.raises(EvaluationError):
        misspellings(" ")


def test_alias_prompts_from_aliases_and_misspellings():
    req = EditRequest("{} said", "Yoda", " hmm", " well")
    out = with_aliases(req, ["the green Jedi master", "Yoda"], misspell=2)
    assert out.alias_prompts[0] == "the green Jedi master said"
    assert len(out.alias_prompts) == 3  # the subject itself is not an alias


def test_yoda_probe_from_the_library():
    probe = yoda_probe(library_material("Yoda"), [library_material("Donald Trump"), library_material("Carl Sagan")])
    assert probe.subject == "Yoda"
    assert {"the green Jedi master", "Yodda"} <= set(probe.aliases)
    assert "strong you are" in probe.edited_markers and "the Force" in probe.kept_markers
    assert set(probe.other_styles) == {"Donald Trump", "Carl Sagan"}


def test_protocol_measures_an_edit_and_nothing_without_one(tiny):
    probe = TraitProbe("Yoda", ["Yodda", "the green Jedi master"], ["hmm"], ["the Force"], {"Donald Trump": ["tremendous"]},
                       templates=['{} said: "', "{} likes to say"])
    still = compare_models(tiny, tiny, probe)
    assert still.edited_subject == 0.0 and still.kept_trait == 0.0 and still.other_styles == {"Donald Trump": 0.0}

    tok = tiny.tokenizer
    ids = tok(["hmm", " hmm"], add_special_tokens=False)["input_ids"]
    name = "transformer.ln_f.bias"
    before = tiny.model.get_parameter(name).detach().clone()

    def edit(lm):  # shift the final norm's bias towards the embeddings of "hmm": its tokens gain everywhere
        emb = lm.model.get_output_embeddings().weight.detach()
        direction = emb[[i for row in ids for i in row]].mean(0)
        result = EditResult("test", [])
        result.add_delta(lm.model, name, 3.0 * direction / direction.norm())
        return result

    moved, result = run_protocol(tiny, probe, edit)
    try:
        assert moved.edited_subject > 0.05
        assert set(moved.edited_aliases) == {"Yodda", "the green Jedi master"}
        assert all(v is not None for v in moved.alias_follow.values())
        assert abs(moved.kept_trait) < abs(moved.edited_subject)
    finally:
        result.restore()
    assert torch.equal(tiny.model.get_parameter(name), before)
