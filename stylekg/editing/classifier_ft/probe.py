"""A style classifier on hidden states: logistic regression on the mean-pooled residual stream.

The probe is fitted (scikit-learn, L2-regularised) on the frozen model's features of style vs
neutral sentences, then expressed as torch tensors so its style probability is differentiable
through the model: ``p_style(x) = sigmoid(w . (h_L(x) - m) / s + b)`` with ``h_L`` the mean over
tokens of the residual after block ``L`` and ``m, s`` the feature standardisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...errors import EditError
from ...lm.architectures import Architecture
from ..ft.objective import Batch, pooled_hidden, text_batch


@dataclass(frozen=True)
class StyleProbe:
    layer: int
    weight: torch.Tensor  # (d,) in standardised feature space
    bias: float
    mean: torch.Tensor  # (d,)
    scale: torch.Tensor  # (d,)
    train_accuracy: float
    n_style: int
    n_neutral: int

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        dev = features.device
        return ((features - self.mean.to(dev)) / self.scale.to(dev)) @ self.weight.to(dev) + self.bias

    def prob(self, features: torch.Tensor) -> torch.Tensor:
        """Style probability per row of pooled features (differentiable)."""
        return torch.sigmoid(self.logits(features))

    def score(self, model: torch.nn.Module, arch: Architecture, batch: Batch) -> torch.Tensor:
        """(B,) style probability of each sequence in ``batch`` under ``model``."""
        return self.prob(pooled_hidden(model, arch, batch, self.layer))


def check_two_classes(style: str, style_texts: Sequence[str], neutral_texts: Sequence[str]) -> None:
    if not style_texts or not neutral_texts:
        raise EditError(
            f"the style classifier for {style!r} needs two classes, got {len(style_texts)} style and "
            f"{len(neutral_texts)} neutral texts",
            hint="give both style example sentences and neutral sentences",
        )


def fit_probe(
    model: torch.nn.Module, arch: Architecture, tokenizer, style_texts: Sequence[str], neutral_texts: Sequence[str],
    layer: int, *, c: float = 1.0, max_len: int = 96, style: str = "",
) -> StyleProbe:
    """Fit the logistic probe (label 1 = style) on the model's current features."""
    from sklearn.linear_model import LogisticRegression

    check_two_classes(style, style_texts, neutral_texts)
    n = arch.num_layers(model)
    if not 0 <= layer < n:
        raise EditError(f"probe layer {layer} is not valid for this {n}-layer model", hint=f"use 0..{n - 1}")
    with torch.no_grad():
        feats = pooled_hidden(model, arch, text_batch(tokenizer, [*style_texts, *neutral_texts], max_len), layer)
    feats = feats.double().cpu()
    labels = [1] * len(style_texts) + [0] * len(neutral_texts)
    mean, scale = feats.mean(dim=0), feats.std(dim=0, unbiased=False).clamp(min=1e-6)
    x = ((feats - mean) / scale).numpy()
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, labels)
    return StyleProbe(
        layer=layer, weight=torch.tensor(clf.coef_[0], dtype=torch.float32), bias=float(clf.intercept_[0]),
        mean=mean.float(), scale=scale.float(), train_accuracy=float(clf.score(x, labels)),
        n_style=len(style_texts), n_neutral=len(neutral_texts),
    )
