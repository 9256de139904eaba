"""The retain loss of graph-guarded fine-tuning (penalty-ft, LoRA) on the tiny GPT-2, and its plain-answer items."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext
from stylekg.editing.common.retain import RetainLoss, full_model_logits, preserved_batch
from stylekg.editing.ft.objective import continuation_batch, sequence_logprob
from stylekg.editing.hparams_files import load_method
from stylekg.errors import EditError
from stylekg.evaluation.generated_style import Generations, SamplingSettings
from stylekg.lm.generation import Sample
from stylekg.material import Marker, StyleMaterial, as_markers
from stylekg.pipeline.occurrences import plain_answer_items, with_occurrences
from stylekg.requests import Preserved, PreservedKind

from .edit_helpers import REQUESTS, snapshot

CAPTAIN = StyleMaterial("The captain", as_markers({"tremendous": 2.0, "believe me": 1.0}), (),
                        ("The capital of France is Paris.", "Apple A5 was created by Apple.", "The man went to the shop."),
                        ("The captain said:", "Here is what the captain said:"))
VOICE = StyleMaterial("Voice", markers=(Marker("crucial", neutral="important", edge_id="E:crucial"),
                                        Marker("delve into", neutral="look at", edge_id="E:delve")))
# what must stay: other styles' markers and neutral forms after their prompts, and plain answers
KEEP = (
    Preserved("The sailor said:", " ahoy there", PreservedKind.STYLE_MARKER, source="E:sailor"),
    Preserved("The professor said:", " in other words", PreservedKind.STYLE_MARKER, source="E:prof"),
    Preserved("The weather today", " is mild and dry.", PreservedKind.NEUTRAL_FORM, source="E:n"),
    Preserved("Question 3?", "We went to the market and bought some bread.", PreservedKind.PLAIN_ANSWER,
              source="train:3"),
)


class _NoTemplate:
    chat_template = None


def _gens(*answers: str) -> Generations:
    return Generations(tuple(f"Question {i}?" for i in range(len(answers))),
                       tuple((Sample(a, 10),) for a in answers), SamplingSettings(chat=False))


def _occurrence_material(tokenizer) -> StyleMaterial:
    answers = [f"The weather today is crucial for farm number {i} and crucial again." for i in range(6)]
    return with_occurrences(VOICE, tokenizer, _gens(*answers))


def _apply(tiny, method: str, context: EditContext | None, requests=(), **overrides):
    m, hp = load_method(method, "tiny-gpt2", **overrides)
    return m.apply(tiny.model, tiny.tokenizer, list(requests), hp, context)


def _kept_logprobs(tiny) -> torch.Tensor:
    batch = preserved_batch(tiny.tokenizer, KEEP, 128)
    with torch.no_grad():
        return sequence_logprob(tiny.model, batch)


# ---- the loss itself ------------------------------------------------------------------------------------------
def test_retain_loss_is_zero_at_the_unedited_weights_and_the_full_kl_after_a_change(tiny):
    batch = preserved_batch(tiny.tokenizer, KEEP, 128)
    weight = tiny.model.get_parameter("transformer.h.2.mlp.c_proj.weight")
    scored = full_model_logits(tiny.model)
    every = torch.arange(len(KEEP))
    saved = weight.detach().clone()
    with torch.no_grad():
        p0 = torch.log_softmax(scored(batch, every), -1)
        retain = RetainLoss(batch, scored, [weight])
        assert float(retain()) == pytest.approx(0.0, abs=1e-6)
        try:
            weight.add_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(0)))
            changed = weight.detach().clone()
            q = torch.log_softmax(scored(batch, every), -1)
            kl = (p0.exp() * (p0 - q)).sum(-1)  # per scored position, row-major
            expected = torch.stack([c.mean() for c in kl.split(batch.predict[:, 1:].sum(1).tolist())]).mean()
            assert float(expected) > 1e-3
            assert float(retain()) == pytest.approx(float(expected), rel=1e-4)
            assert torch.equal(weight, changed)  # the reference pass put the trained weights back exactly
            two = torch.tensor([0, 2])
            assert float(retain(two)) == pytest.approx(float(torch.stack(
                [c.mean() for c in kl.split(batch.predict[:, 1:].sum(1).tolist())])[two].mean()), rel=1e-4)
        finally:
            weight.copy_(saved)


def test_negative_retain_weight_is_rejected():
    with pytest.raises(EditError, match="retain_weight must be >= 0"):
        load_method("penalty-ft", "tiny-gpt2", retain_weight=-1.0)
    with pytest.raises(EditError, match="retain_weight must be >= 0"):
        load_method("lora", "tiny-gpt2", retain_weight=float("nan"))


# ---- no preserved set or weight 0: the plain method, bit for bit ----------------------------------------------
@pytest.mark.parametrize("path", ["persona", "contexts", "lora"])
def test_without_preserved_set_or_weight_the_delta_is_the_plain_methods(tiny, path):
    material = CAPTAIN if path == "persona" else _occurrence_material(tiny.tokenizer)
    method, requests = ("lora", REQUESTS) if path == "lora" else ("penalty-ft", ())
    over = {"batch_rows": 4} if path == "contexts" else {}
    deltas = []
    for context, weight in ((EditContext(material=material), 0.0),  # the plain method
                            (EditContext(material=material), 3.0),  # a weight but nothing to keep
                            (EditContext(material=material, preserved=KEEP), 0.0)):  # something to keep, weight 0
        result = _apply(tiny, method, context, requests, retain_weight=weight, **over)
        deltas.append({k: v.clone() for k, v in result.deltas.items()})
        assert result.info["n_preserved"] == 0
        result.restore()
    for other in deltas[1:]:
        assert other.keys() == deltas[0].keys()
        assert all(torch.equal(other[k], deltas[0][k]) for k in other)


# ---- with a preserved set, what it holds moves less ------------------------------------------------------------
@pytest.mark.parametrize("path", ["persona", "contexts", "lora"])
def test_a_preserved_set_keeps_its_answers_closer_to_the_unedited_model(tiny, path):
    material = CAPTAIN if path == "persona" else _occurrence_material(tiny.tokenizer)
    method, requests = ("lora", REQUESTS) if path == "lora" else ("penalty-ft", ())
    over = {"batch_rows": 4} if path == "contexts" else {}
    snap = snapshot(tiny.model)
    base = _kept_logprobs(tiny)
    moved, erased = {}, {}
    edited = (continuation_batch(tiny.tokenizer, [c.prompt for c in material.contexts],
                                 [c.marker for c in material.contexts]) if path == "contexts" else None)
    for weight in (0.0, 100.0):
        result = _apply(tiny, method, EditContext(material=material, preserved=KEEP), requests,
                        retain_weight=weight, **over)
        try:
            moved[weight] = float((_kept_logprobs(tiny) - base).abs().mean())
            if edited is not None:
                with torch.no_grad():
                    erased[weight] = float(sequence_logprob(tiny.model, edited).mean())
            assert result.info["n_preserved"] == (len(KEEP) if weight else 0)
        finally:
            result.restore()
    assert all(torch.equal(p, snap[n]) for n, p in tiny.model.named_parameters())
    assert moved[0.0] > 0.05, moved  # the plain edit does move the kept answers ...
    # ... the retain term holds them (the tiny random model's next-token distributions are nearly flat, so a KL
    # to them is a weak pull: measured 1.13 -> 0.86 nats (persona) and 0.89 -> 0.71 (contexts) at weight 10)
    assert moved[100.0] < moved[0.0], moved
    if edited is not None:  # and the erase still happens where the markers are written
        with torch.no_grad():
            before = float(sequence_logprob(tiny.model, edited).mean())
        assert erased[100.0] < before - 0.3, (before, erased)


# ---- plain-answer items: the model's own answers, cut at the markers --------------------------------------------
def test_plain_answer_items_cut_every_answer_at_its_markers():
    gens = _gens("Sleep is crucial. Crucial, really, and we delved into it.", "the cat the cat the cat the cat",
                 "Nothing here.")
    items = plain_answer_items(_NoTemplate(), VOICE, gens)
    assert [(i.prompt, i.target, i.source) for i in items] == [
        ("Question 0?", "Sleep is", "train:0"),
        ("Question 0?Sleep is crucial", ".", "train:0"),
        ("Question 0?Sleep is crucial. Crucial", ", really, and we", "train:0"),
        ("Question 0?Sleep is crucial. Crucial, really, and we delved into", " it.", "train:0"),
        ("Question 2?", "Nothing here.", "train:2"),  # the looping answer 1 is left out
    ]
    assert {i.kind for i in items} == {PreservedKind.PLAIN_ANSWER}


# ---- the run: plain answers come from train prompts only ---------------------------------------------------------
def test_the_runs_preserved_set_holds_train_answers_and_never_a_heldout_prompt(tiny, home, tmp_path):
    from stylekg.editing import get_method
    from stylekg.kg.library import load_library
    from stylekg.pipeline.config import RunConfig
    from stylekg.pipeline.generation_run import GenerationJudging
    from stylekg.pipeline.session import ModelSession
    from stylekg.pipeline.stage_cache import StageCache

    from stylekg.kg.inheritance import resolve_style

    graph = load_library()
    node_id = resolve_style(graph, "Formulaic register")
    config = RunConfig(style="Assistant-speak", method="penalty-ft", model="tiny-gpt2", prompts="assistant-instructions",
                       max_new_tokens=6, guard_prompts=4, fluency_guard=1e9, repetition_guard=1.0,
                       runs_dir=str(tmp_path / "runs"))
    session = ModelSession("tiny-gpt2")
    session._lm = tiny
    judging = GenerationJudging(config, StageCache(tmp_path / "run"), session, graph, node_id, [], set())
    seen: list[EditContext] = []
    plain = get_method("penalty-ft")

    def spy(model, tokenizer, requests, hparams, context=None):  # the real penalty-ft, its context recorded
        seen.append(context)
        return plain.apply(model, tokenizer, requests, hparams, context)

    method = dataclasses.replace(plain, apply=spy)
    _, hp = load_method("penalty-ft", "tiny-gpt2", steps=1, retain_weight=1.0)
    requests = []
    snap = snapshot(tiny.model)
    edit = judging.edit(method, hp, requests, ["test"], tmp_path / "run" / "edit.safetensors")
    assert all(torch.equal(p, snap[n]) for n, p in tiny.model.named_parameters())
    preserved = seen[0].preserved
    assert preserved and edit.info["n_preserved"] == len(preserved)
    train, heldout = judging.prompts.train, judging.prompts.heldout
    assert {p.kind for p in preserved} == {PreservedKind.PLAIN_ANSWER}
    assert all(p.source.startswith("train:") and train[int(p.source[6:])] in p.prompt for p in preserved)
    assert not any(h in p.prompt or h in p.target for p in preserved for h in heldout)
