"""Noise for the corrupted run: the input-embedding standard deviation over a set of subjects.

Meng et al. corrupt the subject's token embeddings with ``eps ~ N(0, nu^2)``, ``nu`` three times
the empirical standard deviation of embeddings of subjects (their §2.1 and ``collect_embedding_std``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch

from ..lm.architectures import get_module
from ..lm.loading import LoadedModel

log = logging.getLogger(__name__)

# A small, fixed set of well-known subjects (people, places, organisations, works, products).
DEFAULT_SUBJECTS: tuple[str, ...] = (
    "The Space Needle", "Paris", "Albert Einstein", "Microsoft", "the Eiffel Tower", "Carl Sagan",
    "Mount Everest", "Shakespeare", "Toyota", "the Amazon River", "Beethoven", "Tokyo",
    "Marie Curie", "the Beatles", "Google", "Danielle Darrieux", "Apple", "the Great Wall of China",
    "Napoleon", "Harry Potter", "Barack Obama", "Nintendo", "Lionel Messi", "the Mona Lisa",
)


@torch.no_grad()
def embedding_std(lm: LoadedModel, subjects: Iterable[str] = DEFAULT_SUBJECTS) -> float:
    """Standard deviation of the embedding-layer outputs of every token of ``subjects``."""
    rows = []
    device = lm.device
    for subject in subjects:
        ids = lm.tokenizer(subject, add_special_tokens=False)["input_ids"]
        if not ids:
            continue
        embedded = get_module(lm.model, lm.arch.site("embed"))(torch.tensor([ids], device=device))
        rows.append(embedded[0].float())
    if not rows:
        raise ValueError("no subject tokenised to any token")
    std = torch.cat(rows).std().item()
    log.debug("embedding std over %d subjects: %.5f", len(rows), std)
    return std


def make_noise(samples: int, span: int, hidden: int, level: float, seed: int) -> torch.Tensor:
    """The noise added to the subject's embeddings: (samples, span, hidden), fixed by ``seed``.

    Drawn on the CPU from its own generator, so it is identical on every device and run.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(samples, span, hidden, generator=gen, dtype=torch.float32) * level
