"""From the model's own answers to erase data: marker contexts, plain answers, requests, and penalty-FT on them."""

from __future__ import annotations

import torch

from stylekg.editing.context import EditContext
from stylekg.editing.ft.objective import continuation_batch, sequence_logprob
from stylekg.editing.hparams_files import load_method
from stylekg.evaluation.generated_style import Generations, SamplingSettings
from stylekg.lm.generation import Sample
from stylekg.material import Marker, StyleMaterial
from stylekg.pipeline.occurrences import context_requests, marker_contexts, plain_answers, with_occurrences

VOICE = StyleMaterial("Voice", markers=(Marker("crucial", neutral="important", edge_id="E:crucial"),
                                        Marker("delve into", neutral="look at", edge_id="E:delve")))


class _NoTemplate:
    chat_template = None


def _gens(*answers: str) -> Generations:
    return Generations(tuple(f"Question {i}?" for i in range(len(answers))),
                       tuple((Sample(a, 10),) for a in answers), SamplingSettings(chat=False))


def test_contexts_keep_the_space_with_the_marker_and_the_case_of_the_neutral_form():
    gens = _gens("Sleep is crucial. Crucial, really, and we delved into it.", "Nothing here.")
    contexts = marker_contexts(_NoTemplate(), VOICE, gens)
    assert [(c.prompt, c.marker, c.neutral, c.phrase) for c in contexts] == [
        ("Question 0?Sleep is", " crucial", " important", "crucial"),
        ("Question 0?Sleep is crucial.", " Crucial", " Important", "crucial"),
        ("Question 0?Sleep is crucial. Crucial, really, and we", " delved into", " look at", "delve into"),
    ]
    assert contexts[0].edge_id == "E:crucial"
    plain = plain_answers(_NoTemplate(), VOICE, gens)
    assert plain[0] == ("Question 0?", "Sleep is important. Important, really, and we delved into it.")


def test_requests_put_the_subject_slot_inside_the_real_context():
    gens = _gens("It is crucial {really}.")
    contexts = marker_contexts(_NoTemplate(), VOICE, gens)
    (request,) = context_requests(contexts, subject="Question")
    assert request.text == "Question 0?It is" and request.target_true == " crucial"
    assert request.target_new == " important" and request.edge_id == "E:crucial"


def test_penalty_ft_on_contexts_lowers_the_marker_where_the_model_writes_it(tiny):
    answers = [f"The weather today is crucial for farm number {i} and crucial again." for i in range(6)]
    material = with_occurrences(VOICE, tiny.tokenizer, _gens(*answers))
    assert len(material.contexts) == 12 and len(material.neutral_pairs) == 6
    method, hparams = load_method("penalty-ft", "tiny-gpt2", steps=8, lr=5e-3)
    batch = continuation_batch(tiny.tokenizer, [c.prompt for c in material.contexts],
                               [c.marker for c in material.contexts])
    weights = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    with torch.no_grad():
        before = sequence_logprob(tiny.model, batch).mean()
    result = method.apply(tiny.model, tiny.tokenizer, [], hparams, EditContext(material=material))
    try:
        with torch.no_grad():
            after = sequence_logprob(tiny.model, batch).mean()
        assert after < before - 0.5, (float(before), float(after))
        assert result.info["n_contexts"] == 12
    finally:
        result.restore()
    assert all(torch.equal(p, weights[n]) for n, p in tiny.model.named_parameters())


def test_upper_stack_equals_the_full_model_on_a_padded_batch(tiny):
    from stylekg.editing.ft.objective import token_logprobs
    from stylekg.editing.ft.upper_stack import UpperStack

    batch = continuation_batch(tiny.tokenizer, ["A short prompt", "A much longer prompt about the weather today"],
                               [" and a continuation", " ok"])
    full = token_logprobs(tiny.model, batch)
    stack = UpperStack(tiny.model, tiny.arch, 2, [batch])
    assert torch.allclose(stack.token_logprobs(batch), full, atol=1e-4)
    rows = torch.tensor([1])
    assert torch.allclose(stack.token_logprobs(batch, rows), full[rows], atol=1e-4)


def test_penalty_ft_on_contexts_with_minibatches_through_the_upper_stack(tiny):
    answers = [f"The weather today is crucial for farm number {i} and crucial again." for i in range(6)]
    material = with_occurrences(VOICE, tiny.tokenizer, _gens(*answers))
    method, hparams = load_method("penalty-ft", "tiny-gpt2", steps=8, lr=5e-3, layers=[2, 3], batch_rows=4,
                                  marker_tokens=1)
    batch = continuation_batch(tiny.tokenizer, [c.prompt for c in material.contexts],
                               [c.marker for c in material.contexts], scored=1)
    with torch.no_grad():
        before = sequence_logprob(tiny.model, batch).mean()
    result = method.apply(tiny.model, tiny.tokenizer, [], hparams, EditContext(material=material))
    try:
        with torch.no_grad():
            assert sequence_logprob(tiny.model, batch).mean() < before - 0.3
    finally:
        result.restore()
