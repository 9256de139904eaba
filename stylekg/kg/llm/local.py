"""The ``local`` provider: an in-process instruct model (SmolLM2 by default) with schema-guided decoding.

Small models rarely write valid JSON for a nested schema, so the output is constrained by
construction: :class:`GuidedDecoder` walks the JSON schema and *writes* every brace, key, comma and
quote itself, and lets the model choose only the leaves — free strings greedily (stopping at a quote or
newline, never empty), ``enum`` values and booleans by the model's logits over the allowed options,
arrays with a fixed item count. One KV cache is kept for the whole answer, so the cost is one forward
pass per generated or forced token. The text is valid JSON against the schema's structure; semantic
checks (e.g. "a template needs {}") still go through the base client's validation and re-ask loop.
Templates (strings with ``pattern: "\\{\\}"``) are seeded with ``"{}"`` so they always hold the subject.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ...errors import LLMError
from .client import LLMClient, Messages

log = logging.getLogger(__name__)

# how many items to generate for each array (path with [] for array items); others: max(1, minItems)
DEFAULT_COUNTS = {"parents": 1, "aliases": 2, "traits": 2, "traits[].markers": 2, "facts": 1, "styles": 3}
LONG_KEYS = {"description", "example", "why"}


class GuidedDecoder:
    """Greedy decoding of a JSON document whose structure is forced from a schema."""

    def __init__(self, lm, prompt: str, *, counts: dict[str, int] | None = None, max_string_tokens: int = 12,
                 long_string_tokens: int = 28, answer_budget: int = 1024,
                 repetition_penalty: float = 1.3) -> None:
        import torch

        self.torch = torch
        self.lm = lm
        self.tok = lm.tokenizer
        self.counts = {**DEFAULT_COUNTS, **(counts or {})}
        self.short, self.long = max_string_tokens, long_string_tokens
        self.past = None
        self.logits = None
        self.pending = ""  # text decided but not yet fed to the model
        self.steps = 0
        self._pieces: dict[int, str] = {}
        import inspect

        params = inspect.signature(lm.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"  # transformers ≥5 renamed it
        cfg = lm.model.config
        self.max_ctx = int(getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", 2048))
        self.used = 0
        self.generated: set[int] = set()
        self.penalty = repetition_penalty
        ids = self.tok(prompt)["input_ids"]
        keep = max(self.max_ctx // 4, self.max_ctx - answer_budget)
        if len(ids) > keep:  # keep the end of the prompt (the question) when the context is small
            log.warning("prompt of %d tokens cut to the last %d to fit the model's context", len(ids), keep)
            ids = ids[-keep:]
        self._forward(ids)

    # ---- model I/O -------------------------------------------------------------------------
    def _forward(self, ids: list[int]) -> None:
        torch = self.torch
        if self.used + len(ids) > self.max_ctx:
            raise LLMError(f"the answer does not fit {self.max_ctx} tokens of context",
                           hint="use a model with a longer context or a smaller schema")
        with torch.no_grad():
            inp = torch.tensor([ids], device=self.lm.device)
            kwargs = {self._cache_arg: self.past} if self.past is not None else {}
            out = self.lm.model(input_ids=inp, use_cache=True, **kwargs)
        self.past = out.get("cache", None) or out.get("past_key_values", None)
        self.logits = out.logits[0, -1].float()
        self.used += len(ids)
        self.steps += 1

    def _feed_text(self, text: str, special: bool = False) -> None:
        ids = self.tok(text, add_special_tokens=special)["input_ids"]
        if ids:
            self._forward(ids)

    def feed(self, text: str) -> None:
        """Force ``text`` (plus anything pending) into the context."""
        self.pending += text
        if self.pending:
            self._feed_text(self.pending)
            self.pending = ""

    def piece(self, token_id: int) -> str:
        hit = self._pieces.get(token_id)
        if hit is None:
            hit = self._pieces[token_id] = self.tok.decode([token_id])
        return hit

    # ---- leaves ----------------------------------------------------------------------------
    def string(self, max_tokens: int, prefix: str = "") -> str:
        """A non-empty string value; the opening quote (and ``prefix``) are already fed."""
        text = prefix
        eos = self.tok.eos_token_id
        for _ in range(max_tokens):
            logits = self.logits.clone()
            if self.generated:  # CTRL-style repetition penalty over tokens this answer already generated
                seen = self.torch.tensor(sorted(self.generated), device=logits.device)
                vals = logits[seen]
                logits[seen] = self.torch.where(vals > 0, vals / self.penalty, vals * self.penalty)
            order = self.torch.argsort(logits, descending=True)[:64].tolist()
            chosen = None
            for tid in order:
                piece = self.piece(tid)
                if tid == eos or not piece or any(c in piece for c in "\ufffd\\{}"):
                    if tid == eos and text.strip():
                        return text
                    continue
                stop = min((i for i in (piece.find('"'), piece.find("\n")) if i >= 0), default=-1)
                if stop >= 0:
                    if (text + piece[:stop]).strip():
                        self.pending = piece[:stop]
                        return text + piece[:stop]
                    continue  # an empty string is not allowed: take the next candidate
                if any(ord(c) < 32 for c in piece):
                    continue
                chosen = (tid, piece)
                break
            if chosen is None:
                break
            text += chosen[1]
            self.generated.add(chosen[0])
            self._forward([chosen[0]])
        return text if text.strip() else "x"

    def choice(self, options: list[str]) -> str:
        """The option whose first token the model prefers (options differing in their first token)."""
        best, best_score = options[0], float("-inf")
        for option in options:
            ids = self.tok(self.pending + option, add_special_tokens=False)["input_ids"]
            if not ids:
                continue
            head = self.tok(self.pending, add_special_tokens=False)["input_ids"] if self.pending else []
            tid = ids[len(head)] if len(ids) > len(head) else ids[-1]
            score = float(self.logits[tid])
            if score > best_score:
                best, best_score = option, score
        return best

    # ---- the schema walk -------------------------------------------------------------------
    def value(self, schema: dict[str, Any], path: str = "", key: str = "") -> Any:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if "enum" in schema:
            self.feed('"')
            self.feed("")
            option = self.choice([str(o) for o in schema["enum"]])
            self.feed(json.dumps(option)[1:])
            return option
        if kind == "object":
            self.feed("{")
            out: dict[str, Any] = {}
            props = schema.get("properties", {})
            keys = [k for k in props if k in schema.get("required", props)]
            for i, k in enumerate(keys):
                self.feed(("," if i else "") + f'"{k}": ')
                out[k] = self.value(props[k], f"{path}.{k}".lstrip("."), k)
            self.feed("}")
            return out
        if kind == "array":
            lo, hi = schema.get("minItems", 0), schema.get("maxItems", 10**6)
            n = min(max(self.counts.get(path, max(1, lo)), lo), hi)
            self.feed("[")
            items = []
            for i in range(n):
                if i:
                    self.feed(", ")
                items.append(self.value(schema.get("items", {}), f"{path}[]", key))
            self.feed("]")
            return items
        if kind == "boolean":
            option = self.choice(["true", "false"])
            self.feed(option)
            return option == "true"
        if kind in ("integer", "number"):
            option = self.choice([str(d) for d in range(10)])
            self.feed(option)
            return int(option)
        prefix = "{}" if schema.get("pattern") == r"\{\}" else ""
        self.feed('"' + prefix)
        text = self.string(self.long if key in LONG_KEYS else self.short, prefix)
        self.feed('"')
        return text.strip() if text.strip() else text


class LocalClient(LLMClient):
    """An in-process model from the stylekg model registry answering through :class:`GuidedDecoder`."""

    name = "local"
    schema_in_prompt = False  # the decoder enforces the schema; the prompt only needs the example

    def __init__(self, model: str = "smollm2-135m", *, max_retries: int = 2, device: str = "cpu", lm=None,
                 counts: dict[str, int] | None = None) -> None:
        super().__init__(model, max_retries=max_retries)
        self.device = device
        self._lm = lm
        self.counts = counts
        self.steps = 0

    @property
    def lm(self):
        if self._lm is None:
            from ...lm import load_model

            self._lm = load_model(self.model, device=self.device)
        return self._lm

    def render(self, messages: Messages) -> str:
        tok = self.lm.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nAssistant: "

    def _complete(self, messages: Messages, schema: dict[str, Any]) -> str:
        decoder = GuidedDecoder(self.lm, self.render(messages), counts=self.counts)
        value = decoder.value(schema)
        self.calls += 1
        self.steps += decoder.steps
        log.info("%s: guided answer in %d forward passes", self.label, decoder.steps)
        return json.dumps(value, ensure_ascii=False)
