"""Marker matching, the style classifier and the LLM judge (through a local OpenAI-compatible server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from stylekg.errors import StyleKGError
from stylekg.errors import ClassifierError, JudgeError
from stylekg.evaluation.style_strength import (
    LLMJudge,
    StyleClassifier,
    count_marker,
    has_marker,
    marker_rate,
    parse_verdict,
)
from stylekg.kg.material import style_examples


@pytest.mark.parametrize(
    ("text", "marker", "hit"),
    [
        ("It was TREMENDOUS, folks.", "tremendous", True),
        ("It went tremendously well.", "tremendous", False),  # word boundary
        ("Believe\n  me, it works.", "believe me", True),  # any whitespace inside a multi-word marker
        ("believeme", "believe me", False),
        ("A very, very big crowd.", "very, very", True),
        ("A very very big crowd.", "very, very", False),
        ("I don’t know.", "don't", True),  # curly apostrophe
        ("Hmm! Late, the bus is.", "hmm", True),
        ("Hmmm.", "hmm", False),
        ("Trust the Force.", "the force", True),
        ("(the Force)", "the Force", True),
        ("Wow!!", "wow!", True),
    ],
)
def test_marker_matching_edge_cases(text, marker, hit):
    assert has_marker(text, marker) is hit


def test_marker_rate_counts():
    texts = ["Tremendous deal, believe me.", "A plain sentence.", "Tremendous, tremendous.", ""]
    rate = marker_rate(texts, ["tremendous", "believe me"])
    assert rate.per_marker == {"tremendous": 0.5, "believe me": 0.25}
    assert rate.any_marker == 0.5
    assert count_marker(texts[2], "tremendous") == 2
    words = sum(len(t.split()) for t in texts)
    assert rate.per_100_words == pytest.approx(100 * 4 / words)
    assert rate.n_texts == 4
    assert marker_rate([], ["x"]).any_marker == 0.0
    with pytest.raises(StyleKGError):
        has_marker("x", "   ")


def test_classifier_needs_two_styles():
    with pytest.raises(ClassifierError, match="at least two styles") as info:
        StyleClassifier().fit(["Strong you are.", "Ready you are not."], ["Yoda", "Yoda"])
    assert isinstance(info.value, StyleKGError) and info.value.hint
    with pytest.raises(ClassifierError, match="not trained"):
        StyleClassifier().predict(["x"])


def test_classifier_trained_on_library_examples():
    from stylekg.kg.library import load_library

    examples = style_examples(load_library(), ["Yoda", "Donald Trump", "Carl Sagan"])
    assert all(len(v) >= 3 for v in examples.values())
    clf = StyleClassifier.from_examples(examples)
    assert set(clf.classes) == set(examples)
    yoda = clf.strength(["Hmm. Strong with the Force, this one is."], "Yoda")
    trump = clf.strength(["Hmm. Strong with the Force, this one is."], "Donald Trump")
    assert yoda > trump
    assert clf.predict(["Believe me, a tremendous deal, like nobody has ever seen."]) == ["Donald Trump"]
    with pytest.raises(ClassifierError, match="knows no style"):
        clf.strength(["x"], "Homer Simpson")


class _JudgeHandler(BaseHTTPRequestHandler):
    """A toy OpenAI-compatible judge: "in style" when the text contains 'hmm'."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        text = prompt.split('"""')[1]
        verdict = {"in_style": "hmm" in text.lower(), "confidence": 0.9}
        payload = {
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(verdict)}}],
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_llm_judge_through_the_openai_provider_on_a_local_server(home):
    from stylekg.kg.llm.openai_client import OpenAIClient

    server = HTTPServer(("127.0.0.1", 0), _JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = OpenAIClient("toy", base_url=f"http://127.0.0.1:{server.server_port}/v1", cache=False)
        judge = LLMJudge(client)
        out = judge.strength(["Hmm. Late, the bus is.", "The bus is late."], "Yoda")
    finally:
        server.shutdown()
    assert out == {"in_style_rate": 0.5, "mean_confidence": pytest.approx(0.9), "style_probability": pytest.approx(0.5)}


def test_parse_verdict_rejects_bad_answers():
    assert parse_verdict({"in_style": False, "confidence": 0.25}).style_probability == 0.75
    for bad in ([], {"in_style": "yes", "confidence": 0.5}, {"in_style": True, "confidence": 2}, {"in_style": True}):
        with pytest.raises(JudgeError):
            parse_verdict(bad)
    with pytest.raises(JudgeError, match="complete_json"):
        LLMJudge(object())  # type: ignore[arg-type]
