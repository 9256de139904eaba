"""The small LLM abstraction: ``LLMClient.complete_json(prompt, schema)`` with validation and repair.

Subclasses implement one raw call, :meth:`LLMClient._complete` (a chat transcript → text, or a
:class:`Completion` saying whether the endpoint cut the answer at its token limit). The base class turns that
into validated JSON: it strips code fences, closes what a sloppy answer left open (strings, arrays, objects;
trailing commas), checks the result against the JSON schema (:func:`check_schema`) and an optional semantic
``check``; on failure it re-asks with the error appended to the conversation, at most ``max_retries`` times,
then raises :class:`LLMError`.

An answer the endpoint cut at its token limit (``finish_reason=length``) is a failed answer, never repaired
into a partial graph: it is not used, not cached, the user is warned (a log warning), and the same question
is asked again with a larger token limit (:meth:`LLMClient._raise_token_limit`), within the same retries.
The same machinery serves decomposition here and an LLM judge later.

Sizes are bounded before anything is parsed: an answer longer than :data:`MAX_ANSWER_CHARS` is refused unread, a
string value longer than :data:`MAX_STRING_CHARS` (or the schema's ``maxLength``) fails the schema, an error
quotes at most :data:`MAX_QUOTE_CHARS` of a value, and a re-ask sends back at most :data:`MAX_ECHO_CHARS` of the
invalid answer, so a hostile endpoint cannot make stylekg cache, print or re-send megabytes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import LLMError
from ..jsonform import json_depth

log = logging.getLogger(__name__)
Messages = list[dict[str, str]]
SYSTEM = "You are a careful assistant that answers with a single JSON object and nothing else."
MAX_ANSWER_CHARS = 262_144  # 256 Ki characters: twice what the 32,768-token ceiling can hold at ~4 chars a token
MAX_ANSWER_DEPTH = 32  # nesting an answer may have: the schemas need 4; a deeper one is re-asked, never parsed
MAX_STRING_CHARS = 4_000  # one name, description or example (a schema may set its own maxLength)
MAX_QUOTE_CHARS = 120  # what an error message quotes of a value
MAX_ECHO_CHARS = 2_000  # what a re-ask sends back of the invalid answer


def clip(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters for a message, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… (cut; {len(text)} characters in all)"


def _quote(value: Any) -> str:
    return clip(repr(value))


@dataclass(frozen=True)
class Completion:
    """One raw answer: its text, and whether the endpoint stopped at its token limit (``finish_reason=length``)."""

    text: str
    truncated: bool = False


def strip_fences(text: str) -> str:
    """The JSON inside ```json fences or the span from the first '{' (model chatter removed)."""
    match = re.search(r"```(?:json)?\s*(.*?)(```|$)", text, re.S)
    if match and "{" in match.group(1):
        text = match.group(1)
    start = text.find("{")
    return text[start:] if start >= 0 else text


def repair_json(text: str) -> str:
    """Close what a truncated JSON object left open; drop trailing commas and a dangling key."""
    text = strip_fences(text).strip()
    stack: list[str] = []
    in_string = escape = False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    if in_string:
        text += '"'
    text = text.rstrip().rstrip(",").rstrip()
    if stack and stack[-1] == "}" and re.search(_KEY_AT_END, text):
        text = re.sub(r',?\s*' + _KEY_AT_END[len(r"[{,]\s*"):], "", text)  # a key whose value never came
    text = text.rstrip().rstrip(",")
    text += "".join(reversed(stack))
    return re.sub(r",\s*([}\]])", r"\1", text)


_KEY_AT_END = r'[{,]\s*"(?:[^"\\]|\\.)*"\s*:?$'


def parse_json(text: str) -> tuple[Any, bool]:
    """(value, repaired): parse as-is, else after :func:`repair_json`; raises ``ValueError`` naming the line."""
    cleaned = strip_fences(text).strip()
    if (depth := json_depth(cleaned)) > MAX_ANSWER_DEPTH:  # refused before a recursive parse or check meets it
        raise ValueError(f"the answer is nested {depth} levels deep, more than {MAX_ANSWER_DEPTH}")
    try:
        value, end = json.JSONDecoder().raw_decode(cleaned)  # tolerate chatter after the object
        return value, bool(cleaned[end:].strip())
    except json.JSONDecodeError as first:
        try:
            return json.loads(repair_json(text)), True
        except json.JSONDecodeError:
            raise ValueError(f"invalid JSON at line {first.lineno} column {first.colno}: {first.msg}") from None


def check_schema(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Validate the JSON-schema subset stylekg uses (type, properties, required, additionalProperties,
    items, enum, minItems/maxItems, minLength, pattern); raises ``ValueError`` naming the path."""
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if isinstance(kind, list):
        if not any(_is(value, types.get(k), k) for k in kind):
            raise ValueError(f"{path}: expected one of {kind}, got {type(value).__name__}")
    elif kind and not _is(value, types.get(kind), kind):
        raise ValueError(f"{path}: expected {kind}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{path}: {_quote(value)} is not one of {schema['enum']}")
    if isinstance(value, str):
        longest = schema.get("maxLength", MAX_STRING_CHARS)
        if len(value) > longest:
            raise ValueError(f"{path}: string of {len(value)} characters, longer than {longest}")
        if len(value.strip()) < schema.get("minLength", 0):
            raise ValueError(f"{path}: string shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ValueError(f"{path}: {_quote(value)} does not match {schema['pattern']!r}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise ValueError(f"{path}: missing required key {key!r}")
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                raise ValueError(f"{path}: unexpected keys {extra}")
        for key, sub in props.items():
            if key in value and value[key] is not None:
                check_schema(value[key], sub, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise ValueError(f"{path}: needs at least {schema['minItems']} items, got {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ValueError(f"{path}: at most {schema['maxItems']} items, got {len(value)}")
        for i, item in enumerate(value):
            check_schema(item, schema.get("items", {}), f"{path}[{i}]")


def _is(value: Any, py: Any, kind: str) -> bool:
    if py is None:
        return True
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, py)


class LLMClient:
    """Base of every provider. ``name`` + ``model`` identify it in provenance records."""

    name = "llm"

    def __init__(self, model: str, *, max_retries: int = 2) -> None:
        self.model = model
        self.max_retries = max_retries
        self.calls = 0  # raw completions made (cache hits excluded)
        self.repairs = 0  # outputs fixed locally (fences, chatter, unclosed brackets)
        self.reasks = 0  # re-asks after invalid output
        self.truncations = 0  # answers cut at the token limit (never used, never cached)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.model}"

    def _complete(self, messages: Messages, schema: dict[str, Any]) -> str | Completion:
        raise NotImplementedError

    def _raise_token_limit(self) -> int | None:
        """Give the next call a larger answer budget after a truncated answer; the new limit, or None if fixed."""
        return None

    def complete_json(
        self,
        prompt: str,
        schema: dict[str, Any],
        *,
        check: Callable[[Any], None] | None = None,
        system: str = SYSTEM,
    ) -> dict[str, Any]:
        """A JSON object for ``prompt`` valid against ``schema`` (and ``check``, which raises ``ValueError``)."""
        messages: Messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        errors: list[str] = []
        truncated_last = False
        for attempt in range(self.max_retries + 1):
            answer = self._complete(messages, schema)
            raw, truncated_last = (answer.text, answer.truncated) if isinstance(answer, Completion) else (answer, False)
            if truncated_last:  # a cut answer is a failed answer: ask the same question again with more room
                self.truncations += 1
                errors.append("the answer was cut at the token limit (finish_reason=length)")
                if attempt == self.max_retries:
                    break
                limit = self._raise_token_limit()
                self.reasks += 1
                log.warning("%s cut its answer at the token limit (finish_reason=length); the partial answer is "
                            "not used nor cached; asking again%s", self.label,
                            f" with max_tokens={limit}" if limit else "")
                continue
            try:
                if len(raw) > MAX_ANSWER_CHARS:  # refused unread: never parsed, cached or sent back whole
                    raise ValueError(f"the answer is {len(raw)} characters, more than {MAX_ANSWER_CHARS}")
                value, repaired = parse_json(raw)
                check_schema(value, schema)
                if check is not None:
                    check(value)
            except ValueError as exc:
                error = clip(str(exc), 2 * MAX_QUOTE_CHARS + 200)
                errors.append(error)
                log.info("%s attempt %d invalid: %s", self.label, attempt + 1, error)
                if attempt == self.max_retries:
                    break
                self.reasks += 1
                messages = messages + [
                    {"role": "assistant", "content": clip(raw, MAX_ECHO_CHARS)},
                    {"role": "user", "content": f"That answer was invalid: {error}. Reply again with only the "
                                                f"complete JSON object matching the schema."},
                ]
                continue
            self.repairs += int(repaired)
            self._store(prompt, schema, value)
            return value
        if truncated_last:
            raise LLMError(
                f"{self.label} cut its answer at the token limit (finish_reason=length) on the last of "
                f"{self.max_retries + 1} attempts; nothing was used or cached",
                hint="raise --max-tokens or --retries, or use a model with a longer output limit",
            )
        raise LLMError(
            f"{self.label} gave invalid JSON {self.max_retries + 1} times; last error: {errors[-1]}",
            hint="try another --model or --provider, or raise --retries",
        )

    def _store(self, prompt: str, schema: dict[str, Any], value: dict[str, Any]) -> None:
        """Hook for caching providers: called with each accepted answer."""
