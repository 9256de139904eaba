"""The ``openai`` provider against a REAL local HTTP server speaking the chat-completions protocol.

The server (``http.server`` in a thread on 127.0.0.1, a free port) replays scripted responses —
valid, truncated, malformed, schema-violating, or an HTTP 400 for an unsupported ``response_format`` —
and records every request, so the tests check retries, repair, fallback and the on-disk cache
end to end through the official ``openai`` client (never patched).
"""

from __future__ import annotations

import json
import logging

import pytest

from stylekg.lm.cache import read_checked_json

from stylekg.errors import LLMError
from stylekg.kg.jsonform import to_dict
from stylekg.kg.library import load_library
from stylekg.kg.llm import decompose
from stylekg.kg.llm.library_client import LibraryClient
from stylekg.kg.llm.openai_client import OpenAIClient
from tests.llm_server import recorded_llm_server


@pytest.fixture()
def server():
    with recorded_llm_server() as srv:
        yield srv


def _client(srv, **kw):
    return OpenAIClient("test-model", base_url=f"http://127.0.0.1:{srv.server_port}/v1", api_key="sk-test", **kw)


RECORD = json.dumps(LibraryClient()._record("Carl Sagan"))


def test_valid_answer_structured_output_and_cache(server, home):
    server.script = [{"content": RECORD}]
    graph, result = decompose("Carl Sagan", _client(server), load_library())
    assert len(server.requests) == 1
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["response_format"]["type"] == "json_schema"
    assert req["body"]["response_format"]["json_schema"]["schema"]["required"][0] == "name"
    assert result.linked_parents == {"Cosmic wonder": "AbstractStyle:cosmic-wonder"}
    assert result.provenance.detail.startswith("openai:test-model prompt:")
    assert list((home / "llm").glob("*.json"))
    again = _client(server)  # a new client: the answer comes from disk, no request
    decompose("Carl Sagan", again, load_library())
    assert len(server.requests) == 1 and again.cache_hits == 1 and again.calls == 0


def _cut_record() -> str:
    """The record cut mid-string inside its last marker example, as an endpoint stopping at max_tokens leaves it."""
    record = json.loads(RECORD)
    traits = record.pop("traits")
    text = json.dumps({**record, "traits": traits})  # traits last: the cut lands inside the last example
    assert text.endswith('"}]}]}')
    return text[:-10]  # 4 brackets open: the old repair turned this into a graph missing a trait's markers


def test_truncated_answer_is_reasked_with_more_tokens_never_cached(server, home, caplog):
    server.script = [{"content": _cut_record(), "finish_reason": "length"}, {"content": RECORD}]
    client = _client(server)
    with caplog.at_level(logging.WARNING, logger="stylekg.kg.llm.client"):
        graph, result = decompose("Carl Sagan", client, load_library())
    assert len(server.requests) == 2 and client.truncations == 1 and client.repairs == 0
    first, second = (r["body"] for r in server.requests)
    assert (first["max_tokens"], second["max_tokens"]) == (2048, 4096)  # re-asked with more room …
    assert second["messages"] == first["messages"]  # … the same question, the cut answer not fed back
    assert "cut its answer at the token limit" in caplog.text and "not used nor cached" in caplog.text
    full = json.loads(RECORD)  # every trait and marker of the complete answer arrived
    assert len(result.record["traits"]) == len(full["traits"])
    assert [len(t["markers"]) for t in result.record["traits"]] == [len(t["markers"]) for t in full["traits"]]
    (cached,) = (home / "llm").glob("*.json")  # only the complete answer is cached
    assert read_checked_json(cached, "llm-answer", 1)["value"] == full


def test_truncated_every_time_fails_caches_nothing_and_leaves_graph(server, home):
    server.script = [{"content": _cut_record(), "finish_reason": "length"}] * 3
    base = load_library()
    before = to_dict(base)
    client = _client(server, max_retries=2)
    with pytest.raises(LLMError, match="token limit") as info:
        decompose("Carl Sagan", client, base)
    assert "--max-tokens" in str(info.value)
    assert [r["body"]["max_tokens"] for r in server.requests] == [2048, 4096, 8192]
    assert to_dict(base) == before and not list((home / "llm").glob("*.json"))
    server.script = [{"content": RECORD}]  # a later run asks again (nothing truncated was cached) and succeeds
    graph, result = decompose("Carl Sagan", _client(server), load_library())
    assert len(server.requests) == 4 and "Style:carl-sagan" in graph


def test_cli_tells_the_user_about_a_truncated_answer(server, home, monkeypatch):
    from typer.testing import CliRunner

    from stylekg.cli import app

    server.script = [{"content": _cut_record(), "finish_reason": "length"}] * 2
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    res = CliRunner().invoke(app, ["kg", "decompose", "Carl Sagan", "--model", "m", "--retries", "1",
                                   "--max-tokens", "100", "--json"])
    assert isinstance(res.exception, LLMError) and "token limit" in str(res.exception)
    assert [r["body"]["max_tokens"] for r in server.requests] == [100, 200]


def test_invalid_then_valid_reasks_with_the_error(server, home):
    bad = json.loads(RECORD)
    bad["facts"][0]["template"] = "worked as an"  # no {} for the subject
    server.script = [{"content": RECORD[: len(RECORD) // 3]}, {"content": json.dumps(bad)}, {"content": RECORD}]
    client = _client(server, max_retries=2)
    graph, result = decompose("Carl Sagan", client, load_library())
    assert len(server.requests) == 3 and client.reasks == 2
    second = server.requests[1]["body"]["messages"]
    assert second[-2]["role"] == "assistant" and second[-1]["content"].startswith("That answer was invalid")
    third = server.requests[2]["body"]["messages"][-1]["content"]
    assert "$.facts[0].template" in third


def test_malformed_every_time_raises_and_leaves_graph(server, home):
    server.script = [{"content": "Sure! Carl Sagan was an astronomer."}] * 3
    base = load_library()
    before = to_dict(base)
    client = _client(server, max_retries=2)
    with pytest.raises(LLMError, match="invalid JSON 3 times"):
        decompose("Carl Sagan", client, base)
    assert len(server.requests) == 3 and to_dict(base) == before
    assert not list((home / "llm").glob("*.json"))  # nothing invalid is cached


def test_response_format_fallback(server, home):
    server.script = [{"status": 400, "error": "response_format json_schema is not supported"},
                     {"status": 400, "error": "response_format json_object is not supported"},
                     {"content": "```json\n" + RECORD + "\n```"}]
    client = _client(server)
    decompose("Carl Sagan", client, load_library())
    kinds = [r["body"].get("response_format", {}).get("type") for r in server.requests]
    assert kinds == ["json_schema", "json_object", None] and client.mode == "text"


def test_unreachable_endpoint_is_one_clear_error(home):
    client = OpenAIClient("m", base_url="http://127.0.0.1:9/v1", api_key="x", cache=False)
    with pytest.raises(LLMError, match="cannot reach the LLM endpoint"):
        client.complete_json("TASK: x", {"type": "object"})
