"""Causal tracing on the real SmolLM2: the paper's findings on facts the model gets right."""

from __future__ import annotations

import numpy as np
import pytest

from stylekg.lm.tokens import encode
from stylekg.tracing import TraceParams, make_target, naive_trace, trace

pytestmark = pytest.mark.slow

FACTS = [("The capital of France is", "France", " Paris")]
PARAMS = TraceParams(samples=5)


@pytest.mark.parametrize(("prompt", "subject", "answer"), FACTS)
def test_mlp_peak_and_last_layer_restoration(smollm, prompt, subject, answer):
    import torch

    ids = smollm.tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        top1 = int(smollm.model(input_ids=ids).logits[0, -1].argmax())
    assert smollm.tokenizer.decode([top1]) == answer  # the model knows the fact

    target = make_target(smollm.tokenizer, answer)
    last_subject = encode(smollm.tokenizer, prompt, subject).subject_span[1] - 1
    rows = [last_subject, -1]  # the two rows the paper's findings are about (keeps the test short)
    result = trace(smollm, prompt, subject, target, PARAMS, tokens=rows)
    assert result.high > 0.3 and result.low < 0.5 * result.high  # the noise really destroys the fact
    layers = result.num_layers
    mlp_last_subject = result.effect("mlp")[result.last_subject_token]
    peak = int(np.argmax(mlp_last_subject))
    assert peak < layers // 2, f"MLP effect at the last subject token peaks at layer {peak} of {layers}"
    assert mlp_last_subject[peak] > 0.5 * (result.high - result.low)
    # late-layer MLPs at the last subject token matter far less than the peak
    assert mlp_last_subject[-1] < 0.25 * mlp_last_subject[peak]
    # restoring the residual stream at the last token in the last layer recovers the clean score
    assert result.scores["residual"][-1, -1] == pytest.approx(result.high, abs=1e-4)

    # and the fast algorithm agrees with the reference on the rows that matter
    naive = naive_trace(smollm, prompt, subject, target, TraceParams(samples=5, kinds=("mlp",)), tokens=[last_subject])
    assert np.max(np.abs(result.scores["mlp"][last_subject] - naive.scores["mlp"][last_subject])) <= 1e-5
