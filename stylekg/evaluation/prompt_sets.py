"""Prompt sets: data files of instructions with a fixed train / held-out split.

Train prompts are for tuning, mining and building edit requests; held-out prompts are for judging only, so an
erasure is never scored on the prompts it was fitted on. A set is a JSON file::

    {"name": "...", "description": "...", "train": [{"prompt": "...", "category": "..."}, ...],
     "heldout": [{"prompt": "...", "category": "..."}, ...]}

(entries may also be plain strings). A ``{}`` in a prompt stands for the style's name (persona sets such as
``persona-requests``: "Speak as {} about the economy."). Built-in sets live in ``stylekg/data/prompts/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvaluationError

BUILTIN = Path(__file__).resolve().parents[1] / "data" / "prompts"
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class PromptSet:
    name: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]
    description: str = ""
    heldout_categories: tuple[str, ...] = ()  # the category (family) of each held-out prompt; "" when none

    def family(self, category: str) -> tuple[int, ...]:
        """Indexes of the held-out prompts of one category (a prompt family); empty when it has none."""
        return tuple(i for i, c in enumerate(self.heldout_categories) if c == category)

    def filled(self, name: str) -> "PromptSet":
        """The set with every ``{}`` replaced by ``name`` (persona prompts); unchanged without any."""
        def fill(prompts: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(p.replace("{}", name) for p in prompts)

        return PromptSet(self.name, fill(self.train), fill(self.heldout), self.description, self.heldout_categories)

    def split(self, which: str) -> tuple[str, ...]:
        if which not in SPLITS:
            raise EvaluationError(f"no split {which!r} in prompt set {self.name!r}", hint="use train or heldout")
        prompts = self.train if which == "train" else self.heldout
        if not prompts:
            raise EvaluationError(f"the {which} split of prompt set {self.name!r} is empty",
                                  hint="add prompts to the set's file")
        return prompts


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.json"))


def load_prompt_set(name_or_path: str | Path) -> PromptSet:
    """A built-in set by name, or a JSON file; every problem is named with its fix."""
    path = Path(name_or_path)
    if not path.suffix and (BUILTIN / f"{name_or_path}.json").exists():
        path = BUILTIN / f"{name_or_path}.json"
    if not path.is_file():
        raise EvaluationError(f"no prompt set {str(name_or_path)!r}",
                              hint=f"give a JSON file or a built-in set: {', '.join(builtin_names())}")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"prompt set {path} is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EvaluationError(f"prompt set {path} must be a JSON object with 'train' and 'heldout' lists")
    splits = {which: _prompts(data.get(which, []), path, which) for which in SPLITS}
    categories = _categories(data.get("heldout", []), splits["heldout"])
    overlap = set(splits["train"]) & set(splits["heldout"])
    if overlap:
        raise EvaluationError(f"prompt set {path}: {len(overlap)} prompt(s) are in both splits, e.g. "
                              f"{sorted(overlap)[0]!r}", hint="a held-out prompt must never be used for tuning")
    if not splits["train"] and not splits["heldout"]:
        raise EvaluationError(f"prompt set {path} is empty", hint="add prompts under 'train' and 'heldout'")
    return PromptSet(str(data.get("name") or path.stem), splits["train"], splits["heldout"],
                     str(data.get("description", "")), categories)


def _categories(entries: list, heldout: tuple[str, ...]) -> tuple[str, ...]:
    """Each held-out prompt's ``category`` (first entry of a duplicated prompt wins)."""
    found: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("prompt"), str):
            found.setdefault(entry["prompt"].strip(), str(entry.get("category") or ""))
    return tuple(found.get(p, "") for p in heldout)


def _prompts(entries: object, path: Path, which: str) -> tuple[str, ...]:
    if not isinstance(entries, list):
        raise EvaluationError(f"prompt set {path}: '{which}' must be a list")
    out = []
    for i, entry in enumerate(entries):
        text = entry.get("prompt") if isinstance(entry, dict) else entry
        if not isinstance(text, str) or not text.strip():
            raise EvaluationError(f"prompt set {path}: {which}[{i}] is not a non-empty prompt string")
        out.append(text.strip())
    return tuple(dict.fromkeys(out))
