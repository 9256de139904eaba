"""The retain loss of graph-guarded fine-tuning: keep what the edit's preserved set says must stay.

Each preserved item (:class:`stylekg.requests.Preserved`) is a prompt and the answer to keep after it: another
style's marker, a neutral form, a fact, or the model's own plain answer to a train prompt (marker spans cut out by
the caller, so the erase is free where the markers are written). Each step adds, over the answer positions ``t``
of each item,

    R(theta) = mean_items mean_t KL( p_0(. | x_<t) || p_theta(. | x_<t) ),    p_0 = the unedited model

the KL to the frozen model on data to keep that unlearning objectives add to their forgetting term (Yao et al.
2023, "Large Language Model Unlearning", its KL on normal data; the "KL" retain loss of TOFU, Maini et al. 2024).
It vanishes at ``theta_0``, so it only resists change; unlike the NLL of the answer tokens it keeps the whole
distribution (the model is not made *more* sure of its own answers, which is how fine-tuning on one's own greedy
text makes it loop).

``p_0`` is not stored (positions x vocabulary would not fit): each step the trained weights are swapped back to
their values at construction for one forward pass without gradient, which gives ``p_0`` exactly at the drawn
items. With ``rows`` > 0 each step scores that many items drawn at random (seeded, own generator), an unbiased
estimate of ``R``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ...errors import EditError
from ...requests import Preserved
from ..ft.objective import Batch, continuation_batch, model_device

# (batch, rows) -> (scored positions of those rows, vocab) logits, row-major over batch.predict[:, 1:]
ScoredLogits = Callable[[Batch, torch.Tensor], torch.Tensor]


def full_model_logits(model: torch.nn.Module) -> ScoredLogits:
    """Logits at the scored positions from a forward pass of the whole model."""
    def scored(batch: Batch, rows: torch.Tensor) -> torch.Tensor:
        device = model_device(model)
        ids, mask = batch.input_ids[rows].to(device), batch.attention_mask[rows].to(device)
        predict = batch.predict[rows].to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        r, c = predict[:, 1:].nonzero(as_tuple=True)
        return logits[r, c].float()

    return scored


def preserved_batch(tokenizer, preserved: Sequence[Preserved], max_len: int) -> Batch:
    """Each item's prompt followed by its target; only the target tokens are scored."""
    if not preserved:
        raise EditError("the preserved set is empty", hint="a retain loss needs at least one preserved item")
    return continuation_batch(tokenizer, [p.prompt for p in preserved], [p.target for p in preserved], max_len)


class RetainLoss:
    """``R(theta)`` of the module doc on a preserved set. ``params`` are the weights the edit trains; their values
    when the object is built are the reference ``theta_0`` (build it before the first step)."""

    def __init__(self, batch: Batch, logits: ScoredLogits, params: Sequence[torch.nn.Parameter], *, rows: int = 0,
                 seed: int = 0) -> None:
        if not bool(batch.predict[:, 1:].any(dim=1).all()):
            raise EditError("a preserved item has no answer token inside max_len",
                            hint="shorten the preserved prompts or raise the method's max_len")
        self.batch, self.logits, self.rows = batch, logits, rows
        self.params = list(params)
        self.theta0 = [p.detach().clone() for p in self.params]
        self.counts = batch.predict[:, 1:].sum(dim=1)  # answer positions per item
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self) -> torch.Tensor:
        """The items scored this step: all of them, or ``rows`` drawn without replacement."""
        n = self.batch.input_ids.shape[0]
        if not self.rows or self.rows >= n:
            return torch.arange(n)
        return torch.randperm(n, generator=self.generator)[: self.rows].sort().values

    @torch.no_grad()
    def reference(self, rows: torch.Tensor) -> torch.Tensor:
        """log p_0 at the scored positions of ``rows``: a forward pass with ``theta_0`` swapped in, then back."""
        now = [p.detach().clone() for p in self.params]
        try:
            for p, w0 in zip(self.params, self.theta0):
                p.copy_(w0)
            return torch.log_softmax(self.logits(self.batch, rows), dim=-1)
        finally:
            for p, w in zip(self.params, now):
                p.copy_(w)

    def __call__(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over items (``rows``, default a fresh draw) of the mean per-position KL(p_0 || p_theta).

        Call it before any other differentiable pass of the step: the reference pass writes the trained weights."""
        rows = self.draw() if rows is None else rows
        logp0 = self.reference(rows)  # before the differentiable pass: nothing it saves is overwritten
        logq = torch.log_softmax(self.logits(self.batch, rows), dim=-1)
        kl = (logp0.exp() * (logp0 - logq)).sum(-1)  # (positions,), row-major
        counts = self.counts[rows].to(kl.device)
        item = torch.repeat_interleave(torch.arange(len(rows), device=kl.device), counts)
        per_item = torch.zeros(len(rows), device=kl.device).index_add(0, item, kl) / counts
        return per_item.mean()


def check_retain_weight(weight: float) -> None:
    if not weight >= 0:  # also rejects NaN
        raise EditError(f"retain_weight must be >= 0, got {weight}",
                        hint="retain_weight weighs the KL to the unedited model on the preserved set; 0 turns it off")
