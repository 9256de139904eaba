"""The ``library`` provider: answers decomposition and expansion prompts from the built-in library.

It speaks the same :class:`~.client.LLMClient` protocol as a real model, reading the ``TASK:`` and
``SUBJECT:`` header lines that :mod:`.decompose` writes, so the whole pipeline (validation, linking,
merging) runs offline and deterministically. Unknown subjects raise :class:`LLMError`.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import GraphError, LLMError
from ..inheritance import resolve_style
from ..library import abstract_records, library_names, library_records, load_library
from ..schema import NodeType
from .client import SYSTEM, LLMClient, check_schema


def _header(prompt: str, key: str) -> str:
    match = re.search(rf"^{key}:\s*(.+)$", prompt, re.M)
    if not match:
        raise LLMError(f"the library provider only answers stylekg prompts (no {key}: line)")
    return match.group(1).strip()


def _words(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        out.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out


_SYNONYMS = {"author": ("writer", "novelist"), "character": ("fictional",), "person": ("people", "real")}


class LibraryClient(LLMClient):
    name = "library"

    def __init__(self) -> None:
        super().__init__("builtin", max_retries=0)

    def complete_json(self, prompt: str, schema: dict[str, Any], *, check=None, system: str = SYSTEM) -> dict[str, Any]:
        task = _header(prompt, "TASK")
        subject = _header(prompt, "SUBJECT")
        if task == "decompose":
            value = self._record(subject)
        elif task == "expand":
            value = self._expand(subject, int(_header(prompt, "COUNT")))
        else:
            raise LLMError(f"the library provider cannot do task {task!r}")
        try:
            check_schema(value, schema)
            if check is not None:
                check(value)
        except ValueError as exc:
            raise LLMError(f"library answer for {subject!r} is invalid: {exc}") from None
        self.calls += 1
        return value

    def _record(self, subject: str) -> dict[str, Any]:
        graph = load_library()
        try:
            node = graph.node(resolve_style(graph, subject))
        except GraphError:
            raise LLMError(f"no library style named {subject!r}",
                           hint=f"use --provider openai or local, or one of: {', '.join(library_names())}") from None
        if node.type is not NodeType.STYLE:
            raise LLMError(f"{subject!r} is a {node.type.value} in the library, not a concrete style")
        rec = library_records()[node.name]
        descriptions = {a["name"]: a["description"] for a in abstract_records()}
        return {
            "name": rec["name"], "kind": rec.get("kind", "other"), "description": rec["description"],
            "parents": [{"name": p, "description": descriptions.get(p, "")} for p in rec["parents"]],
            "aliases": [*rec.get("aliases", []), *rec.get("misspellings", [])][:8],  # mixed, as an LLM answers
            "traits": [{"name": t["name"], "description": t["description"], "template": t["template"],
                        "markers": [{k: m[k] for k in ("text", "kind", "neutral", "example")} for m in t["markers"]
                                    if m.get("neutral")]} for t in rec["traits"]],
            "facts": [{k: f[k] for k in ("relation", "template", "object", "paraphrases") if k in f}
                      for f in rec.get("facts", [])],
        }

    def _expand(self, subject: str, n: int) -> dict[str, Any]:
        """Library styles whose name, tags, kind or parents share the most words with ``subject``."""
        wanted = _words(subject)
        scored = []
        for name, rec in library_records().items():
            if rec.get("type", "Style") != "Style":
                continue
            words = _words(" ".join([name, rec.get("kind", ""), rec.get("domain", ""), *rec.get("tags", []),
                                     *rec.get("parents", []), *_SYNONYMS.get(rec.get("kind", ""), ())]))
            score = len(wanted & words)
            if score:
                scored.append((score, name))
        if not scored:
            raise LLMError(f"no library style matches {subject!r}", hint="use --provider openai or local")
        best = max(s for s, _ in scored)
        floor = 2 if best >= 2 else 1
        picks = [name for s, name in sorted(scored, key=lambda x: (-x[0], x[1])) if s >= floor][:n]
        return {"styles": [{"name": p, "why": f"library tags match {subject!r}"} for p in picks]}
