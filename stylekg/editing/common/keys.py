"""Reading activations at the subject's last token: MLP keys k (ROME/MEMIT) and current outputs."""

from __future__ import annotations

import torch

from ...lm.architectures import Architecture
from ...lm.hooks import TraceDict, output_tensor
from ...lm.placement import input_device
from ...requests import EditRequest
from .prompts import ContextPrefixes, as_prefixes, pad_batch, pad_id, prompt_ids


@torch.no_grad()
def read_at_lookup(
    model: torch.nn.Module,
    tokenizer,
    seqs: list[tuple[list[int], int]],
    sites: list[str],
    *,
    inputs: bool,
    batch_size: int = 32,
) -> dict[str, torch.Tensor]:
    """For each (ids, lookup) the input (or output) of each site at position ``lookup``: (n, d) float32 on the
    model's input device."""
    device = input_device(model)
    gathered: dict[str, list[torch.Tensor]] = {s: [] for s in sites}
    for start in range(0, len(seqs), batch_size):
        chunk = seqs[start : start + batch_size]
        ids, mask = pad_batch([s for s, _ in chunk], pad_id(tokenizer), device)
        rows = torch.arange(len(chunk), device=device)
        cols = torch.tensor([lookup for _, lookup in chunk], device=device)
        with TraceDict(model, sites, retain_input=inputs, retain_output=not inputs, stop=True) as traces:
            model(input_ids=ids, attention_mask=mask)
        for site in sites:
            value = traces[site].input if inputs else output_tensor(traces[site].output)
            at = value.device  # the site's layer may run elsewhere (device map): gather there, return on `device`
            gathered[site].append(value[rows.to(at), cols.to(at)].float().to(device))
    return {s: torch.cat(v) for s, v in gathered.items()}


def compute_keys(
    model: torch.nn.Module,
    tokenizer,
    arch: Architecture,
    requests: list[EditRequest],
    layers: list[int],
    prefixes: ContextPrefixes | list[str],
    *,
    by_type: bool = False,
) -> dict[int, torch.Tensor]:
    """k* per request and layer: the mlp_out input at the subject's last token, averaged over prefixes.

    ROME eq. 3: k* = 1/N sum_j k(x_j + s), a flat mean (ROME's ``compute_u``). With ``by_type`` the mean
    is taken within each context type, then across types (MEMIT's ``compute_ks``), so the unprefixed
    prompt weighs as much as all generated prefixes together. Returns {layer: (n_requests, d_in)} in
    float32; all layers come from the same forward passes (stopped after the highest one).
    """
    prefixes = as_prefixes(prefixes)
    seqs = [prompt_ids(tokenizer, r, prefix) for r in requests for prefix in prefixes]
    sites = [arch.site("mlp_out", layer) for layer in layers]
    read = read_at_lookup(model, tokenizer, seqs, sites, inputs=True)
    n = len(prefixes)
    groups = prefixes.groups() if by_type else [list(range(n))]
    out = {}
    for layer, site in zip(layers, sites):
        keys = read[site].view(len(requests), n, -1)
        out[layer] = torch.stack([keys[:, g].mean(1) for g in groups], 1).mean(1)
    return out


@torch.no_grad()
def position_keys(model: torch.nn.Module, tokenizer, site: str, texts: list[str], batch_size: int = 32) -> torch.Tensor:
    """The input of ``site`` at every token of every text (unprefixed): (total tokens, d_in) float32."""
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    for start in range(0, len(texts), batch_size):
        seqs = [tokenizer(t)["input_ids"] for t in texts[start : start + batch_size]]
        ids, mask = pad_batch(seqs, pad_id(tokenizer), device)
        with TraceDict(model, [site], retain_input=True, stop=True) as traces:
            model(input_ids=ids, attention_mask=mask)
        out.append(traces[site].input[mask.bool()].float())
    return torch.cat(out)


def current_outputs(
    model: torch.nn.Module, tokenizer, site: str, requests: list[EditRequest]
) -> torch.Tensor:
    """The output of ``site`` at each (unprefixed) request's subject last token: (n, d)."""
    seqs = [prompt_ids(tokenizer, r) for r in requests]
    return read_at_lookup(model, tokenizer, seqs, [site], inputs=False)[site]
