"""Decompose a style into a graph with an LLM: prompt, JSON schema, validation, linking, provenance.

The LLM answers a *style record* (the library's JSON shape, see :mod:`stylekg.kg.library.records`).
:func:`decompose` validates it (schema + semantic checks, re-asking on failure through
:class:`~.client.LLMClient`), links its abstract parents to existing ``AbstractStyle`` nodes whose
names match, records provenance (provider, model and prompt hash) on every new node and edge, and
merges the result into the target graph atomically.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import GraphError, LLMError
from ...paths import sha256_text
from ..graph import StyleGraph
from ..library.records import PLAIN_TRAIT_ID, link_neutral, record_to_graph_parts
from ..schema import NodeType, Provenance, slug
from .client import LLMClient

log = logging.getLogger(__name__)

_STR = {"type": "string"}
_NAME = {"type": "string", "minLength": 1}
_TEMPLATE = {"type": "string", "minLength": 3, "pattern": r"\{\}"}
MARKER_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["text", "kind", "neutral", "example"],
    "properties": {"text": _NAME, "kind": {"type": "string", "enum": ["lexical", "phrase", "construction", "punctuation"]},
                   "neutral": _NAME, "example": _NAME},
}
DECOMPOSITION_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["name", "kind", "description", "parents", "aliases", "traits", "facts"],
    "properties": {
        "name": _NAME,
        "kind": {"type": "string", "enum": ["person", "character", "author", "group", "register", "meme", "other"]},
        "description": _NAME,
        "parents": {"type": "array", "minItems": 1, "maxItems": 4, "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "description"],
            "properties": {"name": _NAME, "description": _STR}}},
        "aliases": {"type": "array", "maxItems": 8, "items": _NAME},
        "traits": {"type": "array", "minItems": 1, "maxItems": 6, "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "description", "template", "markers"],
            "properties": {"name": _NAME, "description": _STR, "template": _TEMPLATE,
                           "markers": {"type": "array", "minItems": 1, "maxItems": 5, "items": MARKER_SCHEMA}}}},
        "facts": {"type": "array", "maxItems": 6, "items": {
            "type": "object", "additionalProperties": False, "required": ["relation", "template", "object"],
            "properties": {"relation": _NAME, "template": _TEMPLATE, "object": _NAME,
                           "paraphrases": {"type": "array", "maxItems": 4, "items": _TEMPLATE}}}},
    },
}

PROMPT = """TASK: decompose
SUBJECT: {subject}

Explain the style of "{subject}" as an abstract pattern and return it as a style graph in JSON.
- "parents": 1-3 reusable abstract styles this voice is an instance of (patterns shared with other voices,
  e.g. "Exaggeration", "Folksy warmth", "Cosmic wonder", "Archaic inverted syntax").{existing}
- "traits": semantic or grammatical patterns of the voice (what it does, e.g. "Hyperbole", "Inverted syntax").
  Keep meaning (what is said) and grammar (how it is said) in separate traits. Each trait has a prompt
  "template" containing {{}} for the subject whose natural continuation is one of the trait's markers.
- "markers": words, phrases or constructions expressing the trait; each with a plain "neutral" counterpart
  and a short ORIGINAL "example" sentence (never a real quotation).
- "aliases": nicknames, other names and common misspellings of "{subject}".
- "facts": well-known facts as relation, template with {{}} for the subject, and object,
  e.g. {{"relation": "born in", "template": "{{}} was born in", "object": "..."}}.
Example answer for another subject:
{example}
Answer with one JSON object matching this JSON schema:
{schema}
"""
EXAMPLE = {
    "name": "Yoda", "kind": "character", "description": "Ancient Jedi master with reversed word order.",
    "parents": [{"name": "Archaic inverted syntax", "description": "Old-fashioned fronted word order."}],
    "aliases": ["Master Yoda", "Yodda"],
    "traits": [{"name": "Inverted syntax", "description": "Object and verb moved before the subject.",
                "template": "Word order reversed, {} said:",
                "markers": [{"text": "strong you are", "kind": "construction", "neutral": "you are strong",
                             "example": "Strong you are, but rest you must."}]}],
    "facts": [{"relation": "home planet", "template": "In exile, {} lived on the planet", "object": "Dagobah"}],
}
EXAMPLE_ALT = dict(EXAMPLE, name="Homer Simpson", kind="character", description="Cartoon dad, impulsive and food-obsessed.",
                   parents=[{"name": "Exaggeration", "description": "Inflating everything beyond the facts."}],
                   aliases=["Homer", "Homor Simpson"],
                   traits=[{"name": "Exasperated outbursts", "description": "Short yelps instead of sentences.",
                            "template": "After dropping the donut, {} shouted",
                            "markers": [{"text": "D'oh!", "kind": "lexical", "neutral": "Oops.",
                                         "example": "D'oh! The keys were in my other pants."}]}],
                   facts=[{"relation": "lives in", "template": "{} lives in the town of", "object": "Springfield"}])


def build_prompt(subject: str, existing_parents: list[str] | None = None, *, with_schema: bool = True) -> str:
    existing = ""
    if existing_parents:
        existing = "\n  Reuse these existing names when one fits: " + ", ".join(sorted(existing_parents)[:40]) + "."
    example = EXAMPLE_ALT if slug(subject) == "yoda" else EXAMPLE
    schema = json.dumps(DECOMPOSITION_SCHEMA, separators=(",", ":")) if with_schema else "(the keys of the example)"
    return PROMPT.format(subject=subject, existing=existing, example=json.dumps(example, ensure_ascii=False),
                         schema=schema)


def check_record(record: dict[str, Any]) -> None:
    """Semantic checks the schema cannot express; raises ``ValueError`` naming the item."""
    names: set[str] = set()
    for i, trait in enumerate(record.get("traits", [])):
        key = slug(trait["name"])
        if key in names:
            raise ValueError(f"$.traits[{i}]: duplicate trait name {trait['name']!r}")
        names.add(key)
        if "{}" not in trait["template"]:
            raise ValueError(f"$.traits[{i}].template {trait['template']!r} has no '{{}}' for the subject")
        for j, marker in enumerate(trait["markers"]):
            if marker["text"].strip().lower() == marker["neutral"].strip().lower():
                raise ValueError(f"$.traits[{i}].markers[{j}]: neutral form equals the marker {marker['text']!r}")
    for i, fact in enumerate(record.get("facts", [])):
        if "{}" not in fact["template"]:
            raise ValueError(f"$.facts[{i}].template {fact['template']!r} has no '{{}}' for the subject")


_STOP = {"style", "styles", "voice", "voices", "the", "a", "an", "of", "and"}


def norm_name(name: str) -> str:
    """A loose key for matching abstract parents: slug words, stop words dropped, plural 's' removed."""
    words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
             for w in slug(name).split("-") if w not in _STOP]
    return "-".join(words) or slug(name)


@dataclass
class Decomposition:
    subject: str
    style_id: str
    record: dict[str, Any]
    provenance: Provenance
    added_nodes: list[str] = field(default_factory=list)
    added_edges: list[str] = field(default_factory=list)
    linked_parents: dict[str, str] = field(default_factory=dict)  # LLM parent name -> existing node id

    def summary(self) -> dict[str, Any]:
        return {"subject": self.subject, "style": self.style_id, "added_nodes": len(self.added_nodes),
                "added_edges": len(self.added_edges), "linked_parents": self.linked_parents,
                "provenance": {"source": self.provenance.source, "detail": self.provenance.detail}}


def decompose(subject: str, client: LLMClient, graph: StyleGraph | None = None) -> tuple[StyleGraph, Decomposition]:
    """Ask ``client`` for the graph of ``subject`` and merge it into ``graph`` (or a new one).

    On any error (invalid output after the retries, a cycle, a bad template) the graph is unchanged.
    """
    if not subject.strip():
        raise LLMError("decompose needs a non-empty subject")
    graph = graph if graph is not None else StyleGraph(f"decomposition of {subject}")
    abstract = {norm_name(n.name): n.id for n in graph.nodes(NodeType.ABSTRACT_STYLE)}
    # a client that enforces the schema while decoding (``schema_in_prompt = False``) gets a shorter prompt
    prompt = build_prompt(subject, [n.name for n in graph.nodes(NodeType.ABSTRACT_STYLE)],
                          with_schema=getattr(client, "schema_in_prompt", True))
    record = client.complete_json(prompt, DECOMPOSITION_SCHEMA, check=check_record)
    record = dict(record, type="Style")
    if record["name"].strip().lower() != subject.strip().lower():  # keep the user's name; the LLM's becomes an alias
        record["aliases"] = [record["name"], *record.get("aliases", [])]
        record["name"] = subject.strip()
    source = "library" if client.name == "library" else "llm"
    provenance = Provenance(source, f"{client.label} prompt:{sha256_text(prompt)[:16]}")
    linked = {p["name"]: abstract[norm_name(p["name"])] for p in record["parents"] if norm_name(p["name"]) in abstract}
    parent_ids = {name.lower(): nid for name, nid in linked.items()}
    try:
        nodes, edges = record_to_graph_parts(record, provenance, parent_ids=parent_ids, where=f"decomposition of {subject!r}")
    except GraphError as exc:
        raise LLMError(f"{client.label} answered an unusable graph: {exc}") from None
    edges += link_neutral(nodes, edges, PLAIN_TRAIT_ID in graph, provenance)
    result = Decomposition(subject, nodes[0].id, record, provenance, linked_parents=linked)
    fragment = StyleGraph("fragment")
    for n in nodes:
        fragment.add_node(n)
    for nid in {e.target for e in edges} | {e.source for e in edges}:
        if nid not in fragment and nid in graph:
            fragment.add_node(graph.node(nid))
    fragment.add_all((), edges)
    # what the graph already holds stays (its descriptions, a marker's neutral form); the LLM's other values are
    # left out and logged, so a decomposition never rewrites the library's nodes
    plan = graph.merge(fragment, on_conflict="ours")
    for kept in plan.kept:
        log.info("decomposition of %r: kept %s", subject, kept.line())
    result.added_nodes, result.added_edges = plan.added_nodes, plan.added_edges
    return graph, result


def style_names(value: dict[str, Any]) -> list[str]:
    return [s["name"].strip() for s in value.get("styles", []) if s.get("name", "").strip()]


EXPAND_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["styles"],
    "properties": {"styles": {"type": "array", "minItems": 1, "maxItems": 12, "items": {
        "type": "object", "additionalProperties": False, "required": ["name", "why"],
        "properties": {"name": _NAME, "why": _STR}}}},
}
EXPAND_PROMPT = """TASK: expand
SUBJECT: {subject}
COUNT: {n}

List up to {n} concrete, well-known voices (people, characters or authors) whose way of speaking or writing
is typical of "{subject}". Give each one's name and one short reason. Answer with one JSON object matching:
{schema}
"""


def expand_prompt(subject: str, n: int) -> str:
    return EXPAND_PROMPT.format(subject=subject, n=n, schema=json.dumps(EXPAND_SCHEMA, separators=(",", ":")))


def clean_subject(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
