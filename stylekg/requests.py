"""Edit requests: the typed boundary between style graphs and editing methods.

A request is CounterFact-shaped: ``prompt`` is a template with ``{}`` for ``subject``;
``target_new`` / ``target_true`` are continuations (with their leading space).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from .errors import EditError


class RequestKind(str, Enum):
    REPLACE = "replace"  # change the object of an edge
    INSERT = "insert"  # give the subject a new object (e.g. a new marker)
    ERASE = "erase"  # move the object to its neutral counterpart, or just lower it
    RELATION = "relation"  # same subject and object, a new relation template


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
    neighborhood_prompts: tuple[str, ...] = ()  # other subjects, same relation: must keep target_true
    alias_prompts: tuple[str, ...] = ()  # the subject's aliases/misspellings: should follow the edit
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if "{}" not in self.prompt:
            raise EditError(f"prompt {self.prompt!r} has no '{{}}' for the subject", hint="write e.g. '{} lives in'")
        if not self.subject.strip():
            raise EditError("request has an empty subject")
        if self.target_new is None and self.target_true is None:
            raise EditError(f"request {self.case_id or self.prompt!r} has neither target_new nor target_true")
        for name in ("target_new", "target_true"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise EditError(f"request {self.case_id or self.prompt!r} has an empty {name}")

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
            new = rw.get("target_new", {}).get("str")
            true = rw.get("target_true", {}).get("str")
            return cls(
                prompt=rw["prompt"],
                subject=rw["subject"],
                target_new=_spaced(new),
                target_true=_spaced(true),
                kind=RequestKind(rw.get("kind", "replace")),
                edge_id=rw.get("edge_id"),
                case_id=str(record.get("case_id", "")),
                paraphrase_prompts=tuple(record.get("paraphrase_prompts", ())),
                neighborhood_prompts=tuple(record.get("neighborhood_prompts", ())),
                alias_prompts=tuple(record.get("alias_prompts", ())),
            )
        except KeyError as exc:
            raise EditError(f"CounterFact record is missing {exc}", hint="see docs/editing.md for the format") from None

    def to_counterfact(self) -> dict[str, Any]:
        rw: dict[str, Any] = {"prompt": self.prompt, "subject": self.subject, "kind": self.kind.value}
        if self.target_new is not None:
            rw["target_new"] = {"str": self.target_new.strip()}
        if self.target_true is not None:
            rw["target_true"] = {"str": self.target_true.strip()}
        if self.edge_id:
            rw["edge_id"] = self.edge_id
        return {
            "case_id": self.case_id,
            "requested_rewrite": rw,
            "paraphrase_prompts": list(self.paraphrase_prompts),
            "neighborhood_prompts": list(self.neighborhood_prompts),
            "alias_prompts": list(self.alias_prompts),
        }


def _spaced(value: str | None) -> str | None:
    """CounterFact stores targets without the leading space the model predicts; add it back."""
    if value is None:
        return None
    return value if value.startswith(" ") else " " + value
