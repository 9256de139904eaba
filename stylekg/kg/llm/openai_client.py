"""The ``openai`` provider: OpenAI or any OpenAI-compatible server (llama.cpp, vLLM, Ollama).

Uses the official ``openai`` client with ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (or arguments).
It asks for structured outputs (``response_format: json_schema``) and falls back to ``json_object``,
then to plain text, when the endpoint rejects a format (HTTP 400/422) — the fallback is remembered
per client. Accepted answers are cached on disk under ``cache_dir("llm")`` keyed by
sha256(endpoint, model, prompt, schema), so a repeated question costs no request.

An answer cut at ``max_tokens`` (``finish_reason=length``) is reported as truncated: the base client never uses
nor caches it, and asks again with twice the token limit (up to :data:`MAX_TOKENS_CEILING`).

An endpoint URL with user info or a query string (``https://user:key@host/v1?api-key=...``) is refused when the
client is made: the client would send the query string inside every request path (so such a URL never works and
its key lands in the server's logs) and the user info as a ``Basic`` header. The key goes in ``OPENAI_API_KEY``.
Only the public form (:func:`public_url`: no fragment either) is stored in the cache or printed, and every message
from the endpoint is redacted (:func:`stylekg.errors.redact`) and cut before it is shown.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from urllib.parse import urlsplit

from ...errors import LLMError, redact
from ...lm.cache import read_checked_json, reject_entry, write_checked_json
from ...paths import cache_dir, remove_stale_temps, sha256_text
from .client import SYSTEM, Completion, LLMClient, Messages, check_schema
from .endpoint import public_url

log = logging.getLogger(__name__)
LLM_CACHE_SCHEMA = 1  # checked-entry schema of a cached answer
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
MODES = ("json_schema", "json_object", "text")
MAX_TOKENS_CEILING = 32768  # the most a truncated answer's re-ask may ask for


class OpenAIClient(LLMClient):
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 2,
        cache: bool = True,
        timeout: float = 120.0,
        mode: str = "json_schema",
        max_tokens: int = 2048,
    ) -> None:
        super().__init__(model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL, max_retries=max_retries)
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.endpoint = public_url(self.base_url)  # what is stored and printed: no credentials
        _refuse_credentials(self.base_url, self.endpoint)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url == DEFAULT_BASE_URL:
                raise LLMError("OPENAI_API_KEY is not set", hint="export it, or point OPENAI_BASE_URL at a local server")
            key = "not-needed"  # local servers usually ignore the key
        if mode not in MODES:
            raise LLMError(f"unknown response mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=1)
        self.mode = mode
        self.cache = cache
        self.max_tokens = max_tokens
        self.cache_hits = 0

    def check_reachable(self, timeout: float = 10.0) -> None:
        """Raise :class:`LLMError` when nothing answers at the endpoint (a preflight check: no completion is
        asked for and nothing is cached). Any HTTP answer, even an error status, counts as reachable."""
        try:
            self._client.with_options(timeout=timeout, max_retries=0).models.list()
        except self._openai.APIConnectionError:
            raise LLMError(f"cannot reach the LLM endpoint {self.endpoint}",
                           hint="start the server or fix OPENAI_BASE_URL") from None
        except self._openai.APIStatusError:
            pass

    # ---- cache -----------------------------------------------------------------------------
    def cache_key(self, prompt: str, schema: dict[str, Any], system: str = SYSTEM) -> str:
        return sha256_text(self.endpoint, self.model, system + "\n" + prompt, json.dumps(schema, sort_keys=True))

    def _cache_path(self, key: str) -> Path:
        return cache_dir("llm") / f"{key}.json"

    def complete_json(self, prompt: str, schema: dict[str, Any], *, check=None, system: str = SYSTEM) -> dict[str, Any]:
        if self.cache:
            path = self._cache_path(self.cache_key(prompt, schema, system))
            entry = read_checked_json(path, "llm-answer", LLM_CACHE_SCHEMA)  # None: missing or damaged (dropped)
            if entry is not None:
                try:
                    value = entry["value"]
                    check_schema(value, schema)
                    if check is not None:
                        check(value)
                    self.cache_hits += 1
                    return value
                except (ValueError, KeyError, TypeError) as exc:
                    reject_entry(path, f"not a valid answer ({exc})")
        self._system = system
        return super().complete_json(prompt, schema, check=check, system=system)

    def _store(self, prompt: str, schema: dict[str, Any], value: dict[str, Any]) -> None:
        if not self.cache:
            return
        path = self._cache_path(self.cache_key(prompt, schema, getattr(self, "_system", SYSTEM)))
        remove_stale_temps(path.parent)
        write_checked_json(path, {"endpoint": self.endpoint, "model": self.model, "value": value}, "llm-answer",
                           LLM_CACHE_SCHEMA)

    # ---- one raw call ----------------------------------------------------------------------
    def _format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        if self.mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "stylekg_answer", "schema": schema, "strict": False}}
        if self.mode == "json_object":
            return {"type": "json_object"}
        return None

    def _complete(self, messages: Messages, schema: dict[str, Any]) -> str:
        openai = self._openai
        while True:
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                      "max_tokens": self.max_tokens}
            fmt = self._format(schema)
            if fmt is not None:
                kwargs["response_format"] = fmt
            try:
                response = self._client.chat.completions.create(**kwargs)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self.mode != "text":
                    nxt = MODES[MODES.index(self.mode) + 1]
                    log.info("%s rejected response_format=%s (%s); falling back to %s", self.endpoint, self.mode,
                             getattr(exc, "status_code", "?"), nxt)
                    self.mode = nxt
                    continue
                raise LLMError(f"{self.endpoint} rejected the request: {self._short(exc)}") from None
            except openai.AuthenticationError:
                raise LLMError(f"{self.endpoint} refused the API key", hint="check OPENAI_API_KEY") from None
            except openai.NotFoundError as exc:
                raise LLMError(f"{self.endpoint}: model {self.model!r} not found ({self._short(exc)})",
                               hint="pass --model with a model the server serves") from None
            except openai.APIConnectionError:
                raise LLMError(f"cannot reach the LLM endpoint {self.endpoint}",
                               hint="start the server or fix OPENAI_BASE_URL") from None
            except openai.APIError as exc:
                raise LLMError(f"{self.endpoint} failed: {self._short(exc)}") from None
            self.calls += 1
            if not response.choices:
                return ""
            choice = response.choices[0]
            return Completion(choice.message.content or "", truncated=choice.finish_reason == "length")

    def _raise_token_limit(self) -> int | None:
        """Twice the answer budget (at most :data:`MAX_TOKENS_CEILING`) after an answer cut at ``max_tokens``."""
        if self.max_tokens >= MAX_TOKENS_CEILING:
            return None
        self.max_tokens = min(MAX_TOKENS_CEILING, self.max_tokens * 2)
        return self.max_tokens

    def _short(self, exc: Exception) -> str:
        """One line of an error from the endpoint, without the private URL should the server echo it."""
        text = " ".join(str(exc).split()).replace(self.base_url, self.endpoint)
        return redact(text)[:200]


def _refuse_credentials(url: str, public: str) -> None:
    """Refuse an endpoint URL carrying user info or a query string, with one line naming the public form."""
    try:
        parts = urlsplit(url.strip())
        private = bool(parts.username or parts.password or "@" in parts.netloc or parts.query)
    except ValueError:
        private = "@" in url or "?" in url
    if private:
        raise LLMError(f"the LLM endpoint URL ({public}) carries user info or a query string, which would be sent "
                       "in every request path and logged by the server",
                       hint="set OPENAI_BASE_URL to the bare URL and pass the key in OPENAI_API_KEY "
                            "(sent as an Authorization: Bearer header)")
