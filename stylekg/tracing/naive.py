"""The reference causal-tracing algorithm, as in Meng et al.'s code (``trace_with_patch``).

For every restored site: one forward pass of a batch holding the clean prompt (row 0) and
``samples`` noised copies; the subject's embeddings of the copies get the fixed noise, and the
restored states of the copies are overwritten with row 0's. Kept for verification and as the
benchmark baseline; it shares inputs, noise and targets with :func:`stylekg.tracing.trace`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..lm.hooks import TraceDict, output_tensor
from ..lm.loading import LoadedModel
from .inputs import TraceInput, prepare_input
from .noise import DEFAULT_SUBJECTS, embedding_std, make_noise
from .params import TraceParams, window_layers
from .result import TraceResult
from .targets import Target, n_read
from .trace import check_tokens, noised_embeddings


@torch.inference_mode()
def trace_with_patch(
    lm: LoadedModel, inp: TraceInput, noise: torch.Tensor, target: Target, states: Sequence[tuple[int, str]]
) -> tuple[float, float]:
    """(clean score, mean score of the noised copies) with ``states`` = [(token, module)] restored."""
    batch = inp.ids[None].expand(noise.shape[0] + 1, -1)
    by_module: dict[str, list[int]] = {}
    for token, module in states:
        by_module.setdefault(module, []).append(token)
    add_noise = noised_embeddings(lm, noise, inp.subject_span)

    def edit(output, name):
        if name == lm.arch.site("embed"):
            return add_noise(output, name)
        h = output_tensor(output)
        for token in by_module.get(name, ()):
            h[1:, token] = h[0, token]
        return output

    names = [lm.arch.site("embed"), *by_module]
    with TraceDict(lm.model, names, retain_output=False, edit_output=edit):
        logits = lm.model(input_ids=batch, logits_to_keep=n_read(target)).logits
    scores = target.score(logits[:, -n_read(target) :])
    return float(scores[0]), float(scores[1:].mean())


def naive_trace(
    lm: LoadedModel,
    prompt: str,
    subject: str,
    target: Target,
    params: TraceParams = TraceParams(),
    *,
    noise_std: float | None = None,
    tokens: Sequence[int] | None = None,
    progress: bool = False,
) -> TraceResult:
    """Reference trace: one batched forward per (kind, token, layer) site."""
    started = time.perf_counter()
    inp = prepare_input(lm, prompt, subject, target)
    token_list = check_tokens(tokens, inp.n_prompt)
    std = noise_std if noise_std is not None else embedding_std(lm, (*DEFAULT_SUBJECTS, subject))
    L = lm.num_layers
    span = inp.subject_span
    noise = make_noise(params.samples, span[1] - span[0], lm.arch.hidden_size(lm.model), params.noise * std, params.seed)
    high, low = trace_with_patch(lm, inp, noise, target, [])
    scores = {}
    with tqdm(total=len(params.kinds) * len(token_list) * L, disable=not progress, desc="naive tracing") as bar:
        for kind in params.kinds:
            grid = np.full((inp.n_prompt, L), np.nan)
            for t in token_list:
                for layer in range(L):
                    if kind == "residual":
                        states = [(t, lm.arch.site("residual", layer))]
                    else:
                        states = [(t, lm.arch.site(kind, j)) for j in window_layers(layer, params.window, L)]
                    grid[t, layer] = trace_with_patch(lm, inp, noise, target, states)[1]
                    bar.update(1)
            scores[kind] = grid
    elapsed = time.perf_counter() - started
    return TraceResult(
        model=lm.name, prompt=prompt, subject=subject, target=target.describe(), tokens=inp.tokens,
        subject_span=span, scores=scores, high=high, low=low, params=params, noise_std=std,
        algorithm="naive", timings={"total_s": elapsed},
    )
