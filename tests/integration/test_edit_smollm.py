"""ROME and MEMIT on the real SmolLM2-135M: known facts flip, unrelated facts stay (slow)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, memit, rome
from stylekg.editing.hparams_files import load_method
from stylekg.editing.stats import key_second_moments
from stylekg.requests import EditRequest

pytestmark = pytest.mark.slow

COUNTRIES = [
    "France", "Italy", "Japan", "Germany", "Spain", "England", "Russia", "China", "Egypt", "Greece",
    "Portugal", "Austria", "Poland", "Sweden", "Norway", "Ireland", "Turkey", "India", "Hungary", "Finland",
    "Denmark", "Netherlands", "Belgium", "Cuba", "Peru", "Argentina", "Kenya", "Thailand", "Iran", "Vietnam",
]
UNRELATED = [  # unedited subjects, other relations: an edit must leave their top-1 alone
    "The Eiffel Tower is located in the city of",
    "The Colosseum is located in the city of",
    "The Space Needle is located in the city of",
    "Water is made of hydrogen and",
]
STATS_LAYERS = [3, 4, 5, 6]  # ROME's layer 4 and MEMIT's range, collected in one pass


def top1(lm, prompts: list[str]) -> list[str]:
    tok = lm.tokenizer
    old = tok.padding_side
    tok.padding_side = "left"
    try:
        batch = tok(prompts, return_tensors="pt", padding=True).to(lm.device)
    finally:
        tok.padding_side = old
    with torch.no_grad():
        ids = lm.model(**batch).logits[:, -1].argmax(-1)
    return [tok.decode([int(i)]) for i in ids]


@pytest.fixture(scope="module")
def known(smollm) -> list[tuple[str, str]]:
    """(country, capital) pairs the model gets right (top-1), checked before editing."""
    answers = top1(smollm, [f"The capital of {c} is" for c in COUNTRIES])
    return [(c, a) for c, a in zip(COUNTRIES, answers) if a.strip() and a.strip()[0].isupper()]


@pytest.fixture(scope="module")
def stats(smollm):
    """10k-token key statistics, from the shared cache: its keys hold the weights' content hash, the corpus,
    layer, count and dtype, so the demo and this test reuse one computation (one-pass collection and the
    cache key are unit-tested in tests/unit/test_edit_stats.py)."""
    return key_second_moments(smollm.model, smollm.tokenizer, STATS_LAYERS, samples=10000)


def _requests(known: list[tuple[str, str]], n: int) -> list[EditRequest]:
    """Each known fact gets another fact's capital as its new object."""
    pairs = known[:n]
    return [
        EditRequest("The capital of {} is", c, pairs[(i + 1) % len(pairs)][1], a, case_id=c,
                    paraphrase_prompts=(f"The capital city of {c} is", f"{c}'s capital is the city of"))
        for i, (c, a) in enumerate(pairs)
    ]


def test_rome_flips_a_known_fact(smollm, known, stats) -> None:
    assert ("France", " Paris") in known
    request = EditRequest("The capital of {} is", "France", " Rome", " Paris",
                          paraphrase_prompts=("The capital city of France is", "France's capital is the city of"))
    unrelated_before = top1(smollm, UNRELATED + ["The capital of Germany is", "The capital of Japan is"])
    hp = dataclasses.replace(load_method("rome", "smollm2-135m")[1],
                             context_templates=((8, 1),), v_num_grad_steps=15)
    before = {k: v.clone() for k, v in smollm.model.named_parameters() if "layers.4.mlp.down_proj" in k}
    result = rome.apply(smollm.model, smollm.tokenizer, [request], hp, EditContext(stats=stats))
    try:
        assert top1(smollm, [request.text]) == [" Rome"]
        para = top1(smollm, list(request.paraphrase_prompts))
        assert para.count(" Rome") >= 1, para
        assert top1(smollm, UNRELATED + ["The capital of Germany is", "The capital of Japan is"]) == unrelated_before
    finally:
        result.restore()
    assert all(torch.equal(p, before[k]) for k, p in smollm.model.named_parameters() if k in before)
    assert top1(smollm, [request.text]) == [" Paris"]


def test_memit_flips_twenty_known_facts(smollm, known, stats) -> None:
    assert len(known) >= 21, known
    requests = _requests(known, 20)
    held_out = [f"The capital of {c} is" for c, _ in known[20:]]
    unrelated_before = top1(smollm, UNRELATED + held_out)
    hp = dataclasses.replace(load_method("memit", "smollm2-135m")[1],
                             context_templates=((8, 1),), v_num_grad_steps=12, batch_requests=20)
    result = memit.apply(smollm.model, smollm.tokenizer, requests, hp, EditContext(stats=stats))
    try:
        got = top1(smollm, [r.text for r in requests])
        hits = sum(g == r.target_new for g, r in zip(got, requests))
        assert hits >= 18, list(zip(got, [r.target_new for r in requests]))
        para = top1(smollm, [p for r in requests for p in r.paraphrase_prompts])
        wanted = [r.target_new for r in requests for _ in r.paraphrase_prompts]
        assert sum(g == w for g, w in zip(para, wanted)) >= len(wanted) // 2
        after = top1(smollm, UNRELATED + held_out)
        kept = [a == b for a, b in zip(after, unrelated_before)]
        assert all(kept[: len(UNRELATED)]), list(zip(UNRELATED, unrelated_before, after))
        # held-out capitals share the edited relation and are the hardest neighbours; measured here:
        # 3 of 5 keep their top-1 (10k-token statistics, lambda 2000), one of the two others moves to the
        # correct " Buenos" (Aires). Guard against collapse, not against this known MEMIT neighbourhood cost.
        assert sum(kept[len(UNRELATED):]) >= len(held_out) // 2, list(zip(held_out, unrelated_before[len(UNRELATED):], after[len(UNRELATED):]))
    finally:
        result.restore()
