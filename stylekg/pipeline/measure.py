"""Per-style measurements of an erase: how likely each style's markers are on its own prompts.

For every request (subject style, prompt, marker → neutral) the score is the per-token mean
log-prob of the marker and of its neutral counterpart after the prompt. A style *holds* a marker
when P(marker) > P(neutral); an erase *succeeds* on it when the order flips afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..requests import EditRequest


def request_scores(lm: Any, requests: Sequence[EditRequest]) -> list[dict[str, float]]:
    """log P(marker) and log P(neutral) (per-token means) of each request on its own prompt."""
    from ..evaluation.scoring import score_continuations

    items: list[tuple[str, str]] = []
    for r in requests:
        items.append((r.text, r.target_true or ""))
        items.append((r.text, r.target_new or r.target_true or ""))
    scores = score_continuations(lm, items)
    out = []
    for i, r in enumerate(requests):
        marker, neutral = scores[2 * i].mean_logprob, scores[2 * i + 1].mean_logprob
        out.append({"case_id": r.case_id, "subject": r.subject, "marker_logprob": marker, "neutral_logprob": neutral,
                    "holds": float(marker > neutral)})
    return out


def per_style(requests: Sequence[EditRequest], before: list[dict], after: list[dict]) -> dict[str, dict[str, float]]:
    """Aggregate request scores by subject style id (``subject_id``, else the subject)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        groups[r.subject_id or r.subject].append(i)
    out = {}
    for sid, idx in groups.items():
        b_m = np.mean([before[i]["marker_logprob"] for i in idx])
        a_m = np.mean([after[i]["marker_logprob"] for i in idx])
        out[sid] = {
            "marker_logprob_before": float(b_m),
            "marker_logprob_after": float(a_m),
            "marker_logprob_delta": float(a_m - b_m),
            "held_before": float(np.mean([before[i]["holds"] for i in idx])),
            "held_after": float(np.mean([after[i]["holds"] for i in idx])),
            "n_requests": float(len(idx)),
        }
        held = [i for i in idx if before[i]["holds"]]
        out[sid]["n_held_before"] = float(len(held))
        if held:  # erasure is scored only on the edges the model holds
            out[sid]["erase_success"] = float(np.mean([1.0 - after[i]["holds"] for i in held]))
    return out
