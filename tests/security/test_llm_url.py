"""Issue 14 item 3: the LLM endpoint URL may carry credentials; only its public form is cached or printed.
Issue 25 item 5: a URL with user info or a query string is refused outright (the client would put the query
string into every request path), with one line saying how to pass the key.

Against the real local OpenAI-compatible server of ``tests/llm_server.py`` (the official client, never patched).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stylekg.errors import LLMError
from stylekg.kg.llm.openai_client import OpenAIClient
from stylekg.lm.cache import read_checked_json
from tests.llm_server import recorded_llm_server

SECRETS = ("s3cret-pass", "qk-123", "frag-456", "alice")
SCHEMA = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}


def _private(port: int) -> str:
    return f"http://alice:s3cret-pass@127.0.0.1:{port}/v1?api-key=qk-123#frag-456"


@pytest.mark.parametrize("url, public", [
    ("https://alice:s3cret-pass@llm.example:8443/v1?api-key=qk-123#frag-456", "https://llm.example:8443/v1"),
    ("http://alice@127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
    ("http://[::1]:8080/v1?key=qk-123", "http://[::1]:8080/v1"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("http://alice:s3cret-pass@host:99999/v1", "<invalid endpoint URL>"),  # unparsable port: nothing kept
])
def test_public_url_drops_userinfo_query_and_fragment(url, public):
    from stylekg.kg.llm.endpoint import public_url

    assert public_url(url) == public


def _fragment(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1#frag-456"  # a fragment is never sent, but never stored either


def test_cache_entry_holds_only_the_public_endpoint(home):
    with recorded_llm_server([{"content": '{"ok": true}'}]) as server:
        client = OpenAIClient("m", base_url=_fragment(server.server_port), api_key="sk-test")
        assert client.complete_json("TASK: x", SCHEMA) == {"ok": True}
        assert len(server.requests) == 1 and server.requests[0]["path"] == "/v1/chat/completions"
        (entry,) = (home / "llm").glob("*.json")
        text = entry.read_text()
        assert read_checked_json(entry, "llm-answer", 1)["endpoint"] == f"http://127.0.0.1:{server.server_port}/v1"
        assert not any(s in text or s in entry.name for s in SECRETS)
        # the same endpoint with other credentials shares the cache: the key is built from the public form
        again = OpenAIClient("m", base_url=f"http://127.0.0.1:{server.server_port}/v1#other", api_key="sk-test")
        assert again.complete_json("TASK: x", SCHEMA) == {"ok": True} and again.cache_hits == 1


def test_errors_print_only_the_public_endpoint(home):
    with pytest.raises(LLMError, match="user info or a query string") as info:
        OpenAIClient("m", base_url=_private(9), api_key="x", cache=False)
    assert "http://127.0.0.1:9/v1" in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    assert not any(s in str(info.value) for s in SECRETS)
    client = OpenAIClient("m", base_url=_fragment(9), api_key="x", cache=False)
    with pytest.raises(LLMError, match="cannot reach the LLM endpoint") as info:
        client.complete_json("TASK: x", SCHEMA)
    assert "http://127.0.0.1:9/v1" in str(info.value)
    assert not any(s in str(info.value) for s in SECRETS)
    with recorded_llm_server([{"status": 404, "error": "model not found"}]) as server:
        client = OpenAIClient("m", base_url=_fragment(server.server_port), api_key="x", cache=False)
        with pytest.raises(LLMError, match="not found") as info:
            client.complete_json("TASK: x", SCHEMA)
    assert f"http://127.0.0.1:{server.server_port}/v1" in str(info.value)
    assert not any(s in str(info.value) for s in SECRETS)


def test_cli_error_line_has_no_credentials(home):
    env = {"OPENAI_BASE_URL": _private(9), "OPENAI_API_KEY": "sk-test", "STYLEKG_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "decompose", "Somebody", "--model", "m"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "the LLM endpoint URL (http://127.0.0.1:9/v1) carries user info" in proc.stderr
    assert not any(s in proc.stderr + proc.stdout for s in SECRETS)
