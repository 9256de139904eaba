"""Evaluation: CounterFact metrics, fluency/consistency, style presence and strength, probes.

- :func:`evaluate` / :func:`evaluate_requests`: efficacy, paraphrase, neighbourhood and alias
  scores/magnitudes, top-1 checks, fluency and consistency (ROME/MEMIT reference definitions);
- :mod:`.locality_kinds`: a batch's kept neighbours by their overlap with it, efficacy by shared subject;
- :func:`probe_presence` / :func:`probe_style`: which marker edges a model holds before an edit;
- :mod:`.style_strength`: marker rate, a TF-IDF style classifier, an optional LLM judge;
- :mod:`.probes`: aliases, misspellings and the Yoda (single-trait edit) protocol;
- :mod:`.report`: typed results with fixed metric names and graph run records.
"""

from .counterfact import evaluate, evaluate_requests, load_requests
from ..errors import ClassifierError, EvaluationError, JudgeError
from .presence import PresenceReport, probe_presence, probe_style
from .results import METRIC_NAMES, CaseMetrics, EditMetrics, EvalReport, compare, summarize
from .scoring import ContinuationScore, score_continuations

__all__ = [
    "evaluate", "evaluate_requests", "load_requests", "ClassifierError", "EvaluationError", "JudgeError",
    "PresenceReport", "probe_presence", "probe_style", "METRIC_NAMES", "CaseMetrics", "EditMetrics",
    "EvalReport", "compare", "summarize", "ContinuationScore", "score_continuations",
]
