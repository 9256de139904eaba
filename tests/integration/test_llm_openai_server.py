"""The ``openai`` provider against a REAL local HTTP server speaking the chat-completions protocol.

The server (``http.server`` in a thread on 127.0.0.1, a free port) replays scripted responses —
valid, truncated, malformed, schema-violating, or an HTTP 400 for an unsupported ``response_format`` —
and records every request, so the tests check retries, repair, fallback and the on-disk cache
end to end through the official ``openai`` client (never patched).
"""

from __future__ import annotations

import json

import pytest

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


def test_truncated_answer_is_repaired_without_reasking(server, home):
    record = json.loads(RECORD)
    traits = record.pop("traits")
    text = json.dumps({**record, "traits": traits})  # traits last: the cut lands inside the last example
    assert text.endswith('"}]}]}')
    server.script = [{"content": text[:-10], "finish_reason": "length"}]  # cut mid-string, 4 brackets open
    client = _client(server)
    graph, result = decompose("Carl Sagan", client, load_library())
    assert len(server.requests) == 1 and client.repairs == 1 and client.reasks == 0
    assert "Style:carl-sagan" in graph


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
