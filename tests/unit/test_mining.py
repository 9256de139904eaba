"""Marker mining: log-odds with an informative Dirichlet prior finds planted phrases; the mined graph is valid."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from stylekg.errors import EvaluationError
from stylekg.evaluation.phrase_stats import log_odds, occurrences
from stylekg.kg.mined import MinedMarker, MinedStyle, mined_graph
from stylekg.kg.schema import EdgeType, NodeType

WORDS = ("the water cycle moves heat from the sea to the air and back to the land as rain "
         "a car engine burns fuel to push pistons that turn the wheels of the car on the road").split()
PLANTED = ("delve into", "truly remarkable", "every step of the way")


def corpus(n: int, seed: int, planted: bool) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(30)]
        if planted and i % 2 == 0:
            for phrase in PLANTED:
                at = rng.randrange(len(words))
                words[at:at] = phrase.split()
        texts.append(" ".join(words))
    return texts


def test_log_odds_ranks_planted_phrases_first():
    scores = log_odds(corpus(60, 1, planted=True), corpus(60, 2, planted=False), top=10)
    top3 = {s.phrase for s in scores[:3]}
    assert top3 == set(PLANTED), [(s.phrase, round(s.z, 2)) for s in scores[:6]]
    best = scores[0]
    assert best.z > 3 and best.count == 30 and best.count_reference == 0 and best.documents == 30
    # sub-phrases of a planted phrase carry no extra evidence and are not proposed
    assert not {"step of the", "every step", "truly"} & {s.phrase for s in scores}
    # words of the shared vocabulary are not over-used
    assert all(s.phrase not in WORDS for s in scores[:3])


def test_log_odds_is_symmetric_and_rejects_bad_input():
    a, b = corpus(40, 3, True), corpus(40, 4, False)
    assert not [s for s in log_odds(b, a) if s.phrase in PLANTED]  # the reference does not over-use them
    with pytest.raises(EvaluationError):
        log_odds([], b)
    with pytest.raises(EvaluationError):
        log_odds(a, b, alpha0=0)


def test_occurrences_keep_the_context_up_to_the_phrase():
    pairs = [("Explain rain.", "Rain is vital. It is VITAL to crops, truly vital."), ("Other", "nothing here")]
    found = occurrences(pairs, "vital")
    assert [o.prefix for o in found] == ["Rain is ", "Rain is vital. It is ", "Rain is vital. It is VITAL to crops, truly "]
    assert [o.written for o in found] == ["vital", "VITAL", "vital"] and found[0].prompt == "Explain rain."
    assert occurrences(pairs, "vital", limit=1) == found[:1]


def test_mined_graph_is_valid_with_evidence_on_marker_edges():
    markers = (MinedMarker("crucial", 3.1, 12, 1, 8, "important", "Grand importance",
                           ({"prompt": "p", "prefix": "It is ", "written": "crucial"},)),
               MinedMarker("here's a", 2.0, 9, 0, 7, None))
    graph = mined_graph(MinedStyle("SmolLM2 voice", "smollm2-135m", "set/train", "plain", markers,
                                   parent="Formulaic register"), max_evidence=1)
    graph.validate()
    style = graph.find("SmolLM2 voice")
    assert style.type is NodeType.STYLE and graph.out_edges(style.id, EdgeType.SUBCLASS_OF)
    edge = next(e for e in graph.edges(EdgeType.EXPRESSED_BY) if e.target == "Marker:crucial")
    assert edge.properties["occurrences"][0]["prefix"] == "It is "
    assert graph.node("Marker:crucial").properties["mined"]["z"] == 3.1
    assert [e.target for e in graph.out_edges("Marker:crucial", EdgeType.NEUTRAL_FORM)] == ["Marker:important"]
    assert not graph.out_edges("Marker:here-s-a", EdgeType.NEUTRAL_FORM)  # no neutral form known: none invented


def test_mine_command_writes_a_reviewable_graph(tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"train": [f"Tell me about topic number {i}." for i in range(8)],
                                   "heldout": ["Tell me about the sea."]}))
    out = tmp_path / "mined.json"
    proc = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "mine", "--model", "tiny-gpt2", "--style",
                           "Tiny voice", "--prompts", str(prompts), "--min-z", "-100", "--top", "5", "--max-new-tokens", "24", "--temperature", "1.0",
                           "--samples", "2", "--out",
                           str(out), "--json"], capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__("os").environ, "STYLEKG_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert 1 <= len(report["markers"]) <= 5 and out.exists()
    back = subprocess.run([sys.executable, "-m", "stylekg.cli", "kg", "mine", "--model", "tiny-gpt2", "--style",
                           "x", "--prompts", str(tmp_path / "missing.json")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert back.returncode == 2 and "no prompt set" in back.stderr and len(back.stderr.strip().splitlines()) == 1
