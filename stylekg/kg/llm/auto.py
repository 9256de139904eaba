"""``auto``: expand a wide subject ("American talk-show hosts") into styles, decompose each, merge."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ...errors import GraphError, LLMError
from ..graph import StyleGraph
from .client import LLMClient
from .decompose import EXPAND_SCHEMA, Decomposition, clean_subject, decompose, expand_prompt, style_names

log = logging.getLogger(__name__)


@dataclass
class AutoResult:
    subject: str
    styles: list[str]
    decompositions: list[Decomposition] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # style -> error (the graph kept nothing of it)

    @property
    def added_nodes(self) -> list[str]:
        return [n for d in self.decompositions for n in d.added_nodes]

    @property
    def added_edges(self) -> list[str]:
        return [e for d in self.decompositions for e in d.added_edges]

    def summary(self) -> dict[str, Any]:
        return {"subject": self.subject, "styles": self.styles, "added_nodes": len(self.added_nodes),
                "added_edges": len(self.added_edges), "failed": self.failed,
                "decompositions": [d.summary() for d in self.decompositions]}


def auto(wide_subject: str, client: LLMClient, graph: StyleGraph | None = None, *, n: int = 4,
         progress: bool = False) -> tuple[StyleGraph, AutoResult]:
    """Expand ``wide_subject`` into up to ``n`` styles, decompose each into ``graph`` (atomically per
    style: a failed style adds nothing) and report what was added."""
    subject = clean_subject(wide_subject)
    if not subject:
        raise LLMError("auto needs a non-empty subject")
    graph = graph if graph is not None else StyleGraph(f"auto: {subject}")
    names = list(dict.fromkeys(style_names(client.complete_json(expand_prompt(subject, n), EXPAND_SCHEMA))))[:n]
    result = AutoResult(subject, names)
    iterator = names
    if progress:
        from tqdm import tqdm

        iterator = tqdm(names, desc="decomposing", unit="style")
    for name in iterator:
        try:
            graph, dec = decompose(name, client, graph)
        except (LLMError, GraphError) as exc:
            log.warning("could not decompose %r: %s", name, exc)
            result.failed[name] = str(exc)
            continue
        result.decompositions.append(dec)
    return graph, result
