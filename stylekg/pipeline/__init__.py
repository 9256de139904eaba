"""The main job (``stylekg run``): one resumable pipeline from a style name to a report."""

from .config import RunConfig
from .runner import Pipeline, RunOutcome, run_id_for

__all__ = ["RunConfig", "Pipeline", "RunOutcome", "run_id_for"]
