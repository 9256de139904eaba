"""Run several editing methods on the same task, measuring each while its edit is active.

The building block for ``stylekg compare``: :func:`compare` applies each method to the same model,
calls a caller-supplied ``measure(lm) -> dict`` while the edit is live (steering hooks included),
records wall time, peak memory growth and parameters changed, and restores the model exactly
before the next method. :func:`style_measures` is a default ``measure`` built from plain style
material (marker-phrase probability, a hidden-state style probe, neutral-text perplexity); the
evaluation package's metrics can be plugged in the same way.
"""

from __future__ import annotations

import dataclasses

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from ..errors import EditError, StyleKGError
from ..requests import EditRequest
from ..editing.context import EditContext

log = logging.getLogger(__name__)
Measure = Callable[[Any], dict[str, float]]


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the (monotonic) maximum RSS
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Samples resident memory in a background thread; ``growth_mb`` is the peak above the start.

    (torch's CPU allocator is invisible to ``tracemalloc``, so the process RSS is sampled instead.)
    """

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s, self.start, self.peak = every_s, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.every_s)

    def __enter__(self) -> "PeakRSS":
        self.start = self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


@dataclass
class MethodRun:
    """One method's cost and measurements on the shared task (``method == "none"``: unedited)."""

    method: str
    seconds: float = 0.0
    peak_rss_growth_mb: float = 0.0
    cuda_peak_mb: float | None = None
    params_changed: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def run_method(lm: Any, method: str, requests: Sequence[EditRequest], hparams: Any = None,
               *, measure: Measure | None = None, context: EditContext | None = None) -> MethodRun:
    """Apply one method (hparams default to the shipped ``stylekg/configs/<method>/<lm.name>.toml``), measure,
    restore. ``context`` goes to the method as it is (each method reads the fields it needs)."""
    from ..editing.hparams_files import load_method
    from ..editing.registry import get_method

    m, hp = (get_method(method), hparams) if hparams is not None else load_method(method, lm.name)
    cuda = lm.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        started = time.perf_counter()
        result = m.apply(lm.model, lm.tokenizer, list(requests), hp, context)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    try:
        run = MethodRun(method, seconds, rss.growth_mb, params_changed=result.params_changed,
                        info={k: v for k, v in result.info.items() if k != "history"})
        if cuda:
            run.cuda_peak_mb = torch.cuda.max_memory_allocated() / 2**20
        if measure is not None:
            run.metrics = measure(lm)
    finally:
        result.restore()
    return run


def compare(lm: Any, methods: Sequence[str], requests: Sequence[EditRequest], *, measure: Measure | None = None,
            hparams: dict[str, Any] | None = None, keep_going: bool = True,
            context: EditContext | None = None) -> list[MethodRun]:
    """Every method on the same task and the same ``context``; the first row (``none``) measures the unedited
    model.

    With ``keep_going`` a method that raises a user error is recorded with its message and skipped.
    """
    if not methods:
        raise EditError("no methods to compare")
    from ..editing.registry import Need, get_method

    rows = [MethodRun("none", metrics=measure(lm) if measure else {})]
    runs: list[tuple[str, str, EditContext | None]] = []
    for method in methods:
        runs.append((method, method, context))
        if context is not None and context.preserved and Need.PRESERVED in get_method(method).needs:
            # the same method without the graph's guard: the plain reference method, in the same run
            runs.append((f"{method} (no guard)", method, dataclasses.replace(context, preserved=())))
    for label, method, ctx in tqdm(runs, desc="comparing methods", unit="method"):
        try:
            row = run_method(lm, method, requests, (hparams or {}).get(method), measure=measure, context=ctx)
            rows.append(dataclasses.replace(row, method=label))
        except StyleKGError as exc:  # EditError, or a MaterialError from the style material
            if not keep_going:
                raise
            log.warning("%s failed: %s", label, exc)
            rows.append(MethodRun(label, error=str(exc)))
    return rows


def style_measures(lm: Any, material: Any, *, probe_layer: int | None = None) -> Measure:
    """A ``measure`` from plain style material, with a probe fitted once on the *unedited* model.

    Keys: ``marker_prob`` (weighted mean whole-phrase probability after persona prompts),
    ``style_prob`` (probe probability on persona prompts), ``neutral_ppl`` (perplexity on neutral texts).
    """
    from ..editing.classifier_ft.probe import fit_probe
    from ..editing.ft.objective import mean_nll, text_batch
    from ..editing.penalty_ft.main import marker_probabilities

    layer = probe_layer if probe_layer is not None else lm.num_layers // 2
    probe = None
    if material.style_texts and material.neutral_texts:
        probe = fit_probe(lm.model, lm.arch, lm.tokenizer, material.style_texts, material.neutral_texts, layer,
                          style=material.style)
    prompts = text_batch(lm.tokenizer, material.require_prompts())
    neutral = text_batch(lm.tokenizer, material.neutral_texts) if material.neutral_texts else None

    @torch.no_grad()
    def measure(current: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        if material.markers:
            probs = marker_probabilities(current.model, current.tokenizer, material)
            weights = {m.phrase: m.weight for m in material.markers}
            total = sum(weights.values()) or 1.0
            out["marker_prob"] = sum(weights[p] * v for p, v in probs.items()) / total
        if probe is not None:
            out["style_prob"] = float(probe.score(current.model, current.arch, prompts).mean())
        if neutral is not None:
            out["neutral_ppl"] = math.exp(float(mean_nll(current.model, neutral)))
        return out

    return measure


def to_markdown(rows: Sequence[MethodRun]) -> str:
    """A Markdown table: one row per method, cost columns then every metric seen."""
    keys = sorted({k for r in rows for k in r.metrics})
    head = ["method", "seconds", "peak MB", "params changed", *keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.method, f"{r.seconds:.2f}", f"{r.peak_rss_growth_mb:.0f}", str(r.params_changed)]
        cells += [f"{r.metrics[k]:.4g}" if k in r.metrics else (r.error or "") for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
