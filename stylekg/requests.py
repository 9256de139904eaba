"""Edit requests: the typed boundary between style graphs and editing methods.

A request is CounterFact-shaped: ``prompt`` is a template with ``{}`` for ``subject``;
``target_new`` / ``target_true`` are continuations (with their leading space).

Neighbourhood prompts come in two forms. A plain string is CounterFact's: another subject with the
same relation and the same true object, so it must keep ``target_true``. A :class:`Neighbour` carries
its own answer (EasyEdit's locality inputs, MQuAKE, RippleEdits): a nearby fact that must keep *its*
answer. In JSON: ``"neighborhood_prompts": ["...", {"prompt": "...", "target": "..."}]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from .errors import EditError

MAX_TEXT_CHARS = 10_000
"""The longest prompt, subject or target a request may hold (about 2,500 tokens, beyond the context of the small
models stylekg edits): longer text is refused before anything tokenises it."""


def _clip(text: str, limit: int = 60) -> str:
    """``text`` cut for an error message (a hostile 10 MB value must not become a 10 MB error line)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True)
class Neighbour:
    """A nearby fact with its own answer: after an edit, ``target`` must still follow ``prompt``."""

    prompt: str
    target: str

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise EditError(f"neighbour prompt must be a non-empty string, got {self.prompt!r}")
        if not isinstance(self.target, str) or not self.target.strip():
            raise EditError(f"neighbour {self.prompt!r} needs a non-empty string target, got {self.target!r}")

    def to_json(self) -> dict[str, str]:
        return {"prompt": self.prompt, "target": self.target.strip()}


class RequestKind(str, Enum):
    """What an edit does to an edge: the one spelling of the edit modes (``--erase``, ``mode = "erase"``...)."""

    REPLACE = "replace"  # change the object of an edge
    INSERT = "insert"  # give the subject a new object (e.g. a new marker)
    ERASE = "erase"  # move the object to its neutral counterpart, or just lower it
    RELATION = "relation"  # same subject and object, a new relation template


class Propagation(str, Enum):
    """How an edit of an abstract parent reaches its subclasses: the one spelling of ``--propagate``."""

    NONE = "none"  # only the node's own requests
    EXPLICIT = "explicit"  # the parent's requests plus a copy for every inheriting subclass, edited together
    IMPLICIT = "implicit"  # the parent's requests only; the subclasses' copies are measured, not applied


class PreservedKind(str, Enum):
    """Why a prompt is in an edit's preserved set (what the graph, or the model's probed facts, say must stay)."""

    SUBJECT_FACT = "subject_fact"  # another fact of an edited subject (another relation)
    TEMPLATE = "template"  # another subject under an edited relation template
    STYLE_MARKER = "style_marker"  # another style's marker, after its own prompt
    NEUTRAL_FORM = "neutral_form"  # a neutral (plain) form, after the prompt that leads to it
    PLAIN_ANSWER = "plain_answer"  # the model's own plain answer to a train prompt


@dataclass(frozen=True)
class Preserved:
    """A prompt whose own answer an edit must keep: after the edit, ``target`` must still follow ``prompt``.

    ``prompt`` is the full text. ``subject`` names the span whose last token holds the key (as a request's
    subject does), when there is one; ``source`` says where the item came from (a graph edge id, a probe file),
    so a reader can check that the preserved set never came from judged data.
    """

    prompt: str
    target: str
    kind: PreservedKind
    subject: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise EditError(f"a preserved prompt must be a non-empty string, got {self.prompt!r}")
        if not isinstance(self.target, str) or not self.target.strip():
            raise EditError(f"preserved prompt {self.prompt!r} needs a non-empty target, got {self.target!r}")
        if self.subject is not None and self.subject not in self.prompt:
            raise EditError(f"preserved prompt {self.prompt!r} does not contain its subject {self.subject!r}")

    def as_request(self) -> EditRequest | None:
        """The item as a request whose ``target_true`` is the answer to keep (subject's first occurrence as
        ``{}``), so key and value code built for requests reads it; None when it names no subject."""
        if self.subject is None:
            return None
        before, _, after = self.prompt.partition(self.subject)
        if "{" in before + after or "}" in before + after:
            return None
        return EditRequest(prompt=before + "{}" + after, subject=self.subject, target_new=None,
                           target_true=self.target, kind=RequestKind.REPLACE, case_id=f"preserved:{self.source}")

    def to_json(self) -> dict[str, str]:
        out = {"prompt": self.prompt, "target": self.target.strip(), "kind": self.kind.value, "source": self.source}
        if self.subject is not None:
            out["subject"] = self.subject
        return out

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> "Preserved":
        try:
            return cls(item["prompt"], _spaced(item["target"]) or "", PreservedKind(item["kind"]),
                       item.get("subject"), str(item.get("source", "")))
        except (KeyError, ValueError, TypeError) as exc:
            raise EditError(f"a preserved item needs prompt, target and a known kind ({exc})",
                            hint='write {"prompt": "The capital of Spain is", "target": "Madrid", '
                                 '"kind": "template"}') from None


@dataclass(frozen=True)
class EditRequest:
    prompt: str
    subject: str
    target_new: str | None
    target_true: str | None = None
    kind: RequestKind = RequestKind.REPLACE
    edge_id: str | None = None
    case_id: str = ""
    paraphrase_prompts: tuple[str, ...] = ()  # full prompts (subject already filled in)
    neighborhood_prompts: tuple[str | Neighbour, ...] = ()  # strings keep target_true; a Neighbour keeps its own target
    alias_prompts: tuple[str, ...] = ()  # the subject's aliases/misspellings: should follow the edit
    subject_id: str | None = field(default=None, compare=False)  # the graph node the subject names, if any
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("prompt", "subject"):
            if not isinstance(getattr(self, name), str):
                raise EditError(f"request {name} must be a string, got {type(getattr(self, name)).__name__}")
        self._check_sizes()
        check_template(self.prompt)
        if not self.subject.strip():
            raise EditError("request has an empty subject")
        for name in ("target_new", "target_true"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise EditError(f"request {self.case_id or _clip(self.prompt)!r}: {name} must be a string, got {value!r}")
        for name in ("paraphrase_prompts", "alias_prompts"):
            for item in getattr(self, name):
                if not isinstance(item, str):
                    raise EditError(f"request {self.case_id or _clip(self.prompt)!r}: {name} must hold strings, got {item!r}")
        for item in self.neighborhood_prompts:
            if not isinstance(item, (str, Neighbour)):
                raise EditError(f"request {self.case_id or _clip(self.prompt)!r}: a neighbourhood prompt must be a string or "
                                f"{{\"prompt\", \"target\"}}, got {item!r}")
        if self.target_new is None and self.target_true is None:
            raise EditError(f"request {self.case_id or _clip(self.prompt)!r} has neither target_new nor target_true")
        for name in ("target_new", "target_true"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise EditError(f"request {self.case_id or _clip(self.prompt)!r} has an empty {name}")

    def _check_sizes(self) -> None:
        """Refuse any text longer than :data:`MAX_TEXT_CHARS` (before it is quoted, checked or tokenised)."""
        texts = [("prompt", self.prompt), ("subject", self.subject), ("target_new", self.target_new),
                 ("target_true", self.target_true)]
        texts += [(name, item) for name in ("paraphrase_prompts", "alias_prompts") for item in getattr(self, name)]
        texts += [("neighborhood_prompts", getattr(item, "prompt", item)) for item in self.neighborhood_prompts]
        texts += [("neighborhood_prompts", item.target) for item in self.neighborhood_prompts
                  if isinstance(item, Neighbour)]
        for name, value in texts:
            if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
                raise EditError(f"request {self.case_id or _clip(self.prompt)!r}: a {name} text is {len(value)} "
                                f"characters, more than {MAX_TEXT_CHARS}",
                                hint="edit requests hold short prompts and targets; shorten it")

    @property
    def text(self) -> str:
        """The prompt with the subject filled in."""
        return self.prompt.format(self.subject)

    def with_(self, **changes: Any) -> "EditRequest":
        return replace(self, **changes)

    @classmethod
    def from_counterfact(cls, record: dict[str, Any]) -> "EditRequest":
        """Read one CounterFact-style record (``requested_rewrite`` + prompt lists)."""
        try:
            rw = record["requested_rewrite"]
            if not isinstance(rw, dict):
                raise EditError(f"requested_rewrite must be a JSON object, got {type(rw).__name__}")
            new = _target(rw, "target_new")
            true = _target(rw, "target_true")
            return cls(
                prompt=rw["prompt"],
                subject=rw["subject"],
                target_new=_spaced(new),
                target_true=_spaced(true),
                kind=RequestKind(rw.get("kind", "replace")),
                edge_id=rw.get("edge_id"),
                case_id=str(record.get("case_id", "")),
                subject_id=rw.get("subject_id"),
                paraphrase_prompts=_string_list(record, "paraphrase_prompts"),
                neighborhood_prompts=tuple(_neighbour(n) for n in _list(record, "neighborhood_prompts")),
                alias_prompts=_string_list(record, "alias_prompts"),
            )
        except KeyError as exc:
            raise EditError(f"CounterFact record is missing {exc}", hint="see docs/editing.md for the format") from None
        except AttributeError as exc:
            raise EditError(f"CounterFact record is malformed ({exc})", hint="see docs/editing.md for the format") from None

    def to_counterfact(self) -> dict[str, Any]:
        rw: dict[str, Any] = {"prompt": self.prompt, "subject": self.subject, "kind": self.kind.value}
        if self.target_new is not None:
            rw["target_new"] = {"str": self.target_new.strip()}
        if self.target_true is not None:
            rw["target_true"] = {"str": self.target_true.strip()}
        if self.edge_id:
            rw["edge_id"] = self.edge_id
        if self.subject_id:
            rw["subject_id"] = self.subject_id
        return {
            "case_id": self.case_id,
            "requested_rewrite": rw,
            "paraphrase_prompts": list(self.paraphrase_prompts),
            "neighborhood_prompts": [n.to_json() if isinstance(n, Neighbour) else n for n in self.neighborhood_prompts],
            "alias_prompts": list(self.alias_prompts),
        }


def to_record(request: EditRequest) -> dict[str, Any]:
    """A request as a CounterFact-style record, with its ``meta`` when it has one (the JSON form of run
    directories, request files and plans)."""
    record = request.to_counterfact()
    if request.meta:
        record["meta"] = dict(request.meta)
    return record


def from_record(record: dict[str, Any]) -> EditRequest:
    """The inverse of :func:`to_record` (a record without ``meta`` gives an empty one). A ``meta["subject_id"]``
    written before ``subject_id`` was a field moves to the field."""
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise EditError(f"request meta must be a JSON object, got {type(meta).__name__}")
    request = EditRequest.from_counterfact(record)
    meta = dict(meta)
    legacy = meta.pop("subject_id", None)
    if request.subject_id is None and isinstance(legacy, str):
        request = request.with_(subject_id=legacy)
    return request.with_(meta=meta) if meta else request


def _target(rw: dict[str, Any], key: str) -> str | None:
    value = rw.get(key)
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("str")
        if value is None:
            return None
    if not isinstance(value, str):
        raise EditError(f"{key} must be {{\"str\": \"...\"}} or a string, got {rw.get(key)!r}")
    return value


def check_template(prompt: str) -> None:
    """A prompt template holds exactly one ``{}`` (the subject) and no other brace."""
    if not isinstance(prompt, str):
        raise EditError(f"prompt must be a string, got {type(prompt).__name__}")
    count = prompt.count("{}")
    if count == 0:
        raise EditError(f"prompt {prompt!r} has no '{{}}' for the subject", hint="write e.g. '{} lives in'")
    if count > 1:
        raise EditError(f"prompt {prompt!r} has {count} '{{}}'; it needs exactly one, for the subject",
                        hint="write the subject's place once, e.g. '{} lives in'")
    if "{" in prompt.replace("{}", "") or "}" in prompt.replace("{}", ""):
        raise EditError(f"prompt {prompt!r} has a stray brace besides the subject's '{{}}'",
                        hint="remove it; the only braces allowed are the '{}' where the subject goes")


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = record.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise EditError(f"{key} must be a JSON list, got {type(value).__name__} {value!r}",
                        hint=f'write "{key}": ["..."]')
    return value


def _string_list(record: dict[str, Any], key: str) -> tuple[str, ...]:
    items = _list(record, key)
    for item in items:
        if not isinstance(item, str):
            raise EditError(f"{key} must hold strings, got {type(item).__name__} {item!r}")
    return tuple(items)


def _neighbour(item: Any) -> str | Neighbour:
    """A neighbourhood prompt: a string, or ``{"prompt": ..., "target": ...}`` (target as a string or ``{"str": ...}``)."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"prompt", "target"})
        if unknown or "prompt" not in item or "target" not in item:
            raise EditError(f"a neighbourhood prompt object needs exactly 'prompt' and 'target', got keys {sorted(item)}",
                            hint='write {"prompt": "The capital of Spain is", "target": "Madrid"}')
        target = item["target"]
        if isinstance(target, dict) and isinstance(target.get("str"), str):
            target = target["str"]
        if not isinstance(target, str) or not isinstance(item["prompt"], str):
            raise EditError(f"neighbourhood prompt {item!r}: 'prompt' and 'target' must be strings")
        return Neighbour(item["prompt"], _spaced(target) or "")
    raise EditError(f"a neighbourhood prompt must be a string or an object {{\"prompt\", \"target\"}}, "
                    f"got {type(item).__name__} {item!r}")


def _spaced(value: str | None) -> str | None:
    """CounterFact stores targets without the leading space the model predicts; add it back."""
    if value is None:
        return None
    return value if value.startswith(" ") else " " + value
