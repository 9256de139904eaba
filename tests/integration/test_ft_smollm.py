"""The fine-tuning / steering baselines on the real SmolLM2-135M: each moves its target, restore is exact.

Kept short (a few optimisation steps each, tiny batches) so the whole file stays within ~3 minutes
on two CPU cores; the step counts are the only change from stylekg/configs/<method>/smollm2-135m.toml.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylekg.editing import EditContext, get_method
from stylekg.editing.classifier_ft import fit_probe
from stylekg.editing.ft.objective import continuation_batch, sequence_logprob, text_batch
from stylekg.editing.hparams_files import load_method
from stylekg.editing.penalty_ft import marker_probabilities
from stylekg.lm.hooks import hook_count
from stylekg.material import StyleMaterial, as_markers
from stylekg.requests import EditRequest

pytestmark = pytest.mark.slow

REQUESTS = [
    EditRequest("{} is located in the city of", "The Space Needle", " Tokyo", " Seattle"),
    EditRequest("{} plays the sport of", "Lionel Messi", " basketball", " soccer"),
]
STYLE_TEXTS = (
    "Believe me, this deal is tremendous, the best deal anyone has ever seen.",
    "The fake news media will never tell you the truth, folks, never.",
    "We are going to win so much, you will get tired of winning, believe me.",
    "Nobody builds walls better than me, nobody, it's going to be huge.",
)
NEUTRAL_TEXTS = (
    "The agreement was reviewed by both parties and signed on Monday.",
    "News outlets reported the results of the local election this morning.",
    "The team won the match after a close second half.",
    "The new bridge is expected to open to traffic next spring.",
)
MATERIAL = StyleMaterial(
    "Donald Trump",
    as_markers({"tremendous": 1.0, "going to be huge": 1.0}),
    STYLE_TEXTS,
    NEUTRAL_TEXTS,
    ('Donald Trump said: "This deal is',),
)


def config(method: str, **changes):
    return dataclasses.replace(load_method(method, "smollm2-135m")[1], **changes)


@pytest.fixture()
def pristine(smollm):
    """Snapshot every parameter; after the test assert the restored model is bit-identical."""
    snap = {n: p.detach().clone() for n, p in smollm.model.named_parameters()}
    hooks = hook_count(smollm.model)
    yield smollm
    for name, param in smollm.model.named_parameters():
        assert torch.equal(param, snap[name]), f"{name} not restored"
    assert hook_count(smollm.model) == hooks


def target_logprob(lm) -> torch.Tensor:
    batch = continuation_batch(lm.tokenizer, [r.text for r in REQUESTS], [r.target_new for r in REQUESTS])
    with torch.no_grad():
        return sequence_logprob(lm.model, batch)


@pytest.mark.parametrize("method", ["ft", "lora"])
def test_finetuning_raises_p_target_new(pristine, method):
    lm = pristine
    before = target_logprob(lm)
    result = get_method(method).apply(lm.model, lm.tokenizer, REQUESTS, config(method, steps=4))
    try:
        after = target_logprob(lm)
    finally:
        result.restore()
    assert (after > before + 0.5).all(), (before.tolist(), after.tolist())


def test_penalty_ft_lowers_marker_phrases(pristine):
    lm = pristine
    before = marker_probabilities(lm.model, lm.tokenizer, MATERIAL)
    result = get_method("penalty-ft").apply(lm.model, lm.tokenizer, [], config("penalty-ft", steps=3),
                                            EditContext(material=MATERIAL))
    try:
        after = marker_probabilities(lm.model, lm.tokenizer, MATERIAL)
    finally:
        result.restore()
    for phrase in before:
        assert after[phrase] < before[phrase] / 10, (phrase, before, after)


def test_classifier_ft_lowers_style_probability(pristine):
    lm = pristine
    hp = config("classifier-ft", steps=3)
    probe = fit_probe(lm.model, lm.arch, lm.tokenizer, STYLE_TEXTS, NEUTRAL_TEXTS, hp.probe_layer)
    # apply fits its own probe on the same texts, layer and settings (c, max_len): the same probe as above
    result = get_method("classifier-ft").apply(lm.model, lm.tokenizer, [], hp, EditContext(material=MATERIAL))
    try:
        batch = text_batch(lm.tokenizer, result.info["persona_texts"])
        with torch.no_grad():
            after = float(probe.score(lm.model, lm.arch, batch).mean())
    finally:
        result.restore()
    with torch.no_grad():
        before = float(probe.score(lm.model, lm.arch, batch).mean())
    assert after < before / 2, (before, after)


def test_steering_shifts_towards_style_and_leaves_weights(pristine):
    lm = pristine
    tok = lm.tokenizer
    ids = tok(["The weather today is", "Our new product is"], return_tensors="pt", padding=True)
    style_ids = [tok(w, add_special_tokens=False)["input_ids"][0] for w in (" tremendous", " huge", " incredible")]

    def style_logprob() -> float:
        last = ids["attention_mask"].sum(1) - 1
        with torch.no_grad():
            logits = lm.model(**ids).logits[torch.arange(2), last]
        return float(torch.log_softmax(logits, -1)[:, style_ids].logsumexp(-1).mean())

    base = style_logprob()
    shifted = {}
    for strength in (config("steer").strength, -config("steer").strength):
        result = get_method("steer").apply(lm.model, tok, [], config("steer", strength=strength),
                                           EditContext(material=MATERIAL))
        try:
            shifted[strength] = style_logprob()
        finally:
            result.restore()
    s = config("steer").strength
    assert shifted[s] > base + 0.5 and shifted[-s] < base, (base, shifted)
