"""Graph-guarded MEMIT and AlphaEdit: the preserved set splits by key, moves less, and never reads judged data."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, alphaedit, memit
from stylekg.editing.common.keys import position_keys
from stylekg.editing.common.guard import exclude_keys, plan_guard
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import key_second_moments
from stylekg.requests import EditRequest, Neighbour, Preserved, PreservedKind

from .edit_helpers import REQUESTS, margins, same_weights, snapshot, target_logprob

OTHERS = ("Germany", "Japan", "Spain", "Canada", "Italy", "Egypt")


def _hp(name: str, **changes):
    _, hp = load_method(name, "tiny-gpt2")
    return dataclasses.replace(hp, **changes)


def _top1(model, tokenizer, text: str) -> str:
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.no_grad():
        return tokenizer.decode([int(model(ids).logits[0, -1].argmax())])


@pytest.fixture(scope="module")
def stats(tiny):
    return key_second_moments(tiny.model, tiny.tokenizer, [1, 2], samples=2000)


@pytest.fixture(scope="module")
def template_preserved(tiny) -> tuple[Preserved, ...]:
    """Other subjects under the edited template, with the unedited model's own answers (key side)."""
    return tuple(Preserved(f"The capital city of {s}", _top1(tiny.model, tiny.tokenizer, f"The capital city of {s}"),
                           PreservedKind.TEMPLATE, subject=s, source="test") for s in OTHERS)


def _drift(model, tokenizer, preserved) -> float:
    return sum(abs(target_logprob(model, tokenizer, p.prompt, p.target)) for p in preserved)


def test_plan_guard_splits_by_key(tiny) -> None:
    tok = tiny.tokenizer
    preserved = (
        Preserved("The capital city of France is", " Paris", PreservedKind.SUBJECT_FACT, "France"),  # same key
        Preserved("The capital city of Germany", " Berlin", PreservedKind.TEMPLATE, "Germany"),  # its own key
        Preserved("Write a poem.", " Roses", PreservedKind.PLAIN_ANSWER),  # no subject: no key
        Preserved("The capital city of France", " Paris", PreservedKind.SUBJECT_FACT, "France"),  # the edit itself
    )
    plan = plan_guard(tok, REQUESTS, preserved)
    assert [u.edits for u in plan.units] == [(0,), (1,)]
    assert [r.text for r in plan.units[0].retain] == ["The capital city of France is"]
    assert plan.units[0].retain[0].target_new == " Paris"
    assert [r.text for r in plan.key_side] == ["The capital city of Germany"]
    assert plan.info["no_key"] == 1 and plan.active
    assert not plan_guard(tok, REQUESTS, ()).active


def test_requests_sharing_a_key_share_one_value(tiny) -> None:
    twin = EditRequest("The capital city of {}", "France", " Madrid", " Paris", case_id="2")
    keep = (Preserved("The capital city of Germany", " Berlin", PreservedKind.TEMPLATE, "Germany"),)
    plan = plan_guard(tiny.tokenizer, [*REQUESTS, twin], keep)
    assert [u.edits for u in plan.units] == [(0, 2), (1,)]
    assert [u.edits for u in plan_guard(tiny.tokenizer, [*REQUESTS, twin], keep, share_values=False).units] == \
        [(0,), (1,), (2,)]


def test_empty_preserved_set_is_the_plain_method(tiny, stats) -> None:
    model, tok = tiny.model, tiny.tokenizer
    hp = _hp("memit")
    plain = memit.apply(model, tok, REQUESTS, hp, EditContext(stats=stats))
    deltas = {k: v.clone() for k, v in plain.deltas.items()}
    plain.restore()
    again = memit.apply(model, tok, REQUESTS, hp, EditContext(stats=stats, preserved=()))
    try:
        assert all(torch.equal(deltas[k], again.deltas[k]) for k in deltas)
        assert again.info["guard"] is None
    finally:
        again.restore()


@pytest.mark.parametrize("name", ["memit", "alphaedit"])
def test_guard_keeps_preserved_answers_and_still_edits(tiny, stats, template_preserved, name) -> None:
    model, tok = tiny.model, tiny.tokenizer
    module = memit if name == "memit" else alphaedit
    hp = _hp(name, guard_key_weight=100.0) if name == "memit" else _hp(name)
    before = snapshot(model)
    base = [target_logprob(model, tok, p.prompt, p.target) for p in template_preserved]

    def moved(preserved) -> tuple[float, list[float]]:
        result = module.apply(model, tok, REQUESTS, hp, EditContext(stats=stats, preserved=preserved))
        try:
            after = [target_logprob(model, tok, p.prompt, p.target) for p in template_preserved]
            return sum(abs(a - b) for a, b in zip(after, base)), margins(model, tok, REQUESTS)
        finally:
            result.restore()

    plain_drift, _ = moved(())
    guarded_drift, guarded_margins = moved(template_preserved)
    assert same_weights(model, before)
    assert all(m > 0 for m in guarded_margins), guarded_margins  # the edits still win
    assert plain_drift > 0.05, plain_drift  # the plain edit does move them: the check below can fail
    assert guarded_drift < 0.5 * plain_drift, (guarded_drift, plain_drift)


def test_alphaedit_guard_leaves_preserved_keys_exactly(tiny, stats, template_preserved) -> None:
    model, tok, arch = tiny.model, tiny.tokenizer, tiny.arch
    hp = _hp("alphaedit")
    layer = max(hp.layers)  # its inputs do not depend on its own weights: read them on the edited model
    result = alphaedit.apply(model, tok, REQUESTS, hp, EditContext(stats=stats, preserved=template_preserved))
    try:
        kp = position_keys(model, tok, arch.site("mlp_out", layer), [p.prompt for p in template_preserved]).double()
        name = arch.site("mlp_out", layer) + ".weight"
        delta = arch.as_out_in(result.deltas[name]).double()
        assert (delta @ kp.T).norm() / delta.norm() < 1e-6
        assert result.info["guard"]["key_side"] == len(template_preserved)
    finally:
        result.restore()


def test_exclude_keys_is_a_projection_orthogonal_to_the_keys() -> None:
    torch.manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(32, 20, dtype=torch.float64))
    p = basis @ basis.T
    keys = torch.randn(3, 32, dtype=torch.float64)
    q = exclude_keys(p, keys)
    assert torch.allclose(q @ q, q, atol=1e-10) and torch.allclose(q, q.T, atol=1e-12)
    assert (q @ keys.T).abs().max() < 1e-10
    assert torch.linalg.matrix_rank(q) == 17


def test_judged_neighbours_never_guide_the_edit(tiny, stats, template_preserved) -> None:
    """A request's neighbourhood prompts are for scoring only: the delta is bit-identical without them."""
    model, tok = tiny.model, tiny.tokenizer
    judged = [r.with_(neighborhood_prompts=(Neighbour("The capital city of Germany", " Berlin"),
                                            "The capital city of Italy"),
                      paraphrase_prompts=("France's capital city",)) for r in REQUESTS]
    for module, name in ((memit, "memit"), (alphaedit, "alphaedit")):
        hp = _hp(name)
        with_judged = module.apply(model, tok, judged, hp, EditContext(stats=stats, preserved=template_preserved))
        deltas = {k: v.clone() for k, v in with_judged.deltas.items()}
        with_judged.restore()
        bare = [r.with_(neighborhood_prompts=(), paraphrase_prompts=()) for r in REQUESTS]
        without = module.apply(model, tok, bare, hp, EditContext(stats=stats, preserved=template_preserved))
        try:
            assert all(torch.equal(deltas[k], without.deltas[k]) for k in deltas), name
        finally:
            without.restore()
