"""Issue 22, the audit: a hand-written hierarchy on the tiny model, a forced substitution reported as 'rose'.

The tiny random GPT-2 writes a chosen word over and over when its final layer-norm bias points along that word's
embedding (logit_j = h . e_j). Before the "edit" it writes the abstract parent's marker ("star"); the edit moves
it onto a subclass's own marker ("little"). The audit must say that the parent's marker fell and the sibling's
rose, on the subclass's own family of held-out prompts, and `stylekg query substitutions` must list the rise.
A metric that can only report reductions fails here.
"""

from __future__ import annotations

import json

import pytest
import torch

from stylekg.evaluation.generated_style import Generations, SamplingSettings, generate
from stylekg.evaluation.node_effects import ABSENT, FELL, ROSE, UNCHANGED, Rate, direction
from stylekg.evaluation.prompt_sets import load_prompt_set
from stylekg.kg.graph import StyleGraph
from stylekg.kg.io import read_patch
from stylekg.pipeline.effects_stage import audit
from tests.reliability.conftest import cli  # noqa: F401  (the CLI as the console script runs it)

RECORDS = [
    {"type": "AbstractStyle", "name": "Toy register", "description": "The parent voice.",
     "traits": [{"name": "Starry talk", "markers": [{"text": "star", "neutral": "sun"}]}]},
    {"name": "Toy child", "family": "animals", "parents": ["Toy register"],
     "traits": [{"name": "Small talk", "markers": [{"text": "little", "neutral": "small"}]}]},
    {"name": "Toy traveller", "family": "places", "parents": ["Toy register"],
     "traits": [{"name": "City talk", "markers": [{"text": "Paris", "neutral": "the city"}]}]},
]
PROMPTS = {
    "name": "toy-families",
    "train": [{"prompt": "Tell me about a cat.", "category": "animals"},
              {"prompt": "Tell me about Rome.", "category": "places"}],
    "heldout": [{"prompt": f"Tell me about the {w}.", "category": c} for w, c in
                [("dog", "animals"), ("horse", "animals"), ("owl", "animals"), ("fox", "animals"),
                 ("river", "places"), ("harbour", "places"), ("valley", "places")]],
}
SETTINGS = SamplingSettings(max_new_tokens=12)


def _force(lm, word: str | None) -> None:
    """Point the final layer-norm bias along ``word``'s embedding (None: back to zero)."""
    ln = lm.model.transformer.ln_f
    with torch.no_grad():
        if word is None:
            ln.bias.zero_()
            return
        e = lm.model.transformer.wte.weight[lm.tokenizer.convert_tokens_to_ids("\u0120" + word)]
        ln.bias.copy_(30.0 * e / e.norm())


@pytest.fixture(scope="module")
def toy(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    (root / "toy.json").write_text(json.dumps(RECORDS))
    (root / "prompts.json").write_text(json.dumps(PROMPTS))
    graph = read_patch(root / "toy.json", StyleGraph("toy"))
    graph.name = "toy"
    prompts = load_prompt_set(root / "prompts.json")
    bias = tiny.model.transformer.ln_f.bias.detach().clone()
    try:
        _force(tiny, "star")
        before = generate(tiny, prompts.heldout, SETTINGS)
        _force(tiny, "little")  # the forced substitution: the sibling's own marker replaces the parent's
        after = generate(tiny, prompts.heldout, SETTINGS)
    finally:
        with torch.no_grad():
            tiny.model.transformer.ln_f.bias.copy_(bias)
    parent, child, traveller = (graph.find(n).id for n in ("Toy register", "Toy child", "Toy traveller"))
    styles = [(parent, "edited"), (child, "subclass"), (traveller, "subclass")]
    report = audit(graph, [parent], styles, prompts, before, after, propagate="none")
    return graph, prompts, before, after, report


def _row(report, name: str, kind: str) -> dict:
    hits = [r for r in report.rows if r["name"] == name and r["kind"] == kind]
    assert len(hits) == 1, [(r["name"], r["kind"]) for r in report.rows]
    return hits[0]


def test_the_edit_really_substitutes(toy) -> None:
    _, _, before, after, _ = toy
    assert all("star" in t and "little" not in t for t in before.texts()), before.texts()
    assert all("little" in t and "star" not in t for t in after.texts()), after.texts()


def test_the_sibling_marker_rose_and_the_parent_marker_fell(toy) -> None:
    _, _, _, _, report = toy
    little = _row(report, "little", "Marker")
    assert little["direction"] == ROSE and little["after"]["hits"] > 0 == little["before"]["hits"]
    assert little["family"] == "animals" and little["before"]["n_prompts"] == 4  # its own family only
    assert _row(report, "Small talk", "Trait")["direction"] == ROSE
    assert _row(report, "Toy child", "Style")["direction"] == ROSE  # the subclass's own markers, as a sum
    star = _row(report, "star", "Marker")
    assert star["direction"] == FELL and star["before"]["n_prompts"] == 7 and star["after"]["hits"] == 0
    assert _row(report, "Toy register", "AbstractStyle")["direction"] == FELL
    assert _row(report, "Paris", "Marker")["direction"] == ABSENT  # never written: nothing to remove
    assert _row(report, "small", "Neutral form")["direction"] == ABSENT
    assert report.matrix["rows"] == [toy[0].find("Toy register").id]
    assert len(report.matrix["change"][0]) == len(report.rows)


def test_substitutions_list_the_rise_in_and_outside_the_graph(toy) -> None:
    _, _, _, _, report = toy
    names = [(s["name"], s["kind"]) for s in report.substitutions]
    assert ("little", "Marker") in names
    assert any(kind == "n-gram" and "little" in name for name, kind in names), names  # found with no graph
    assert all(s["direction"] == ROSE for s in report.substitutions)


def test_direction_needs_separated_intervals() -> None:
    low, high = Rate(1.0, 0.5, 1.5, 3, 3000, 5), Rate(4.0, 2.0, 6.0, 12, 3000, 5)
    overlapping = Rate(2.0, 1.2, 2.8, 6, 3000, 5)
    assert direction(low, high) == ROSE and direction(high, low) == FELL
    assert direction(low, overlapping) == UNCHANGED
    assert direction(Rate(0, 0, 0, 0, 10, 2), Rate(0, 0, 0, 0, 10, 2)) == ABSENT


def test_different_prompts_are_refused(toy) -> None:
    from stylekg.errors import EvaluationError

    graph, prompts, before, after, _ = toy
    other = Generations(before.prompts[:-1], before.samples[:-1], before.settings)
    with pytest.raises(EvaluationError, match="different prompts"):
        audit(graph, [], [], prompts, other, after)


def test_store_queries_and_cli_report_the_rise(toy, tmp_path, cli) -> None:
    from stylekg.kg.run_effects import effect_rows, substitution_rows
    from stylekg.kg.stores import open_store
    from stylekg.pipeline.records import edit_record, effect_targets

    graph, _, _, _, report = toy
    effects = report.to_dict()
    record = edit_record(run_id="toy", method="forced", model="tiny-gpt2", graph="toy", rows=[], created="",
                         params={"propagate": "none", "edited": effects["edited"],
                                 "substitutions": effects["substitutions"]},
                         hparams_hash="", known=graph, extra_targets=effect_targets(effects, graph))
    path = tmp_path / "g.lbug"
    with open_store(str(path)) as store:
        store.save_graph(graph)
        store.write_run(record)
        _, rows = effect_rows(store, "latest")
        _, rose = substitution_rows(store, "toy")  # a run directory's id finds its stored run
    by_node = {(r["node"], r["type"]): r for r in rows}
    assert by_node[("little", "Marker")]["direction"] == "rose"
    assert by_node[("star", "Marker")]["direction"] == "fell"
    assert by_node[("Paris", "Marker")]["direction"] == "absent"
    assert by_node[("little", "Marker")]["before_high"] < by_node[("little", "Marker")]["after_low"]
    assert rose[0]["change"] >= rose[-1]["change"] and {"little"} <= {r["phrase"] for r in rose}
    assert any(not r["in_graph"] for r in rose)
    out = cli("query", "substitutions", "latest", "--json", "--store", str(path))
    assert out.code == 0, out.err
    assert "little" in {r["phrase"] for r in json.loads(out.out)["rows"]}
    out = cli("query", "effects", "latest", "--store", str(path))
    assert out.code == 0 and "rose" in out.out and "fell" in out.out, out.out
    out = cli("query", "effect-matrix", "latest", "toy", "--json", "--store", str(path))
    assert out.code == 0, out.err
    matrix = json.loads(out.out)
    assert len(matrix) == 2 and matrix[0]["Toy child"].endswith("rose") and matrix[0]["Toy register"].endswith("fell")
    bad = cli("query", "effects", "no-such-run", "--store", str(path))
    assert bad.code == 2 and "no run 'no-such-run'" in bad.err


def test_graph_view_colours_directions(toy) -> None:
    from stylekg.kg.schema import RunRecord, TargetMetrics
    from stylekg.views.pyvis_view import DIRECTION_COLOURS, DIRECTION_METRIC, build_network

    graph, _, _, _, report = toy
    run = RunRecord("run:toy:1", "edit", "forced", "tiny-gpt2", "toy",
                    targets=[TargetMetrics(r["node_id"], r["metrics"], r["role"]) for r in report.rows])
    colours = {n["id"]: n["color"]["background"] for n in build_network(graph, run, DIRECTION_METRIC).nodes}
    assert colours[graph.find("little").id] == DIRECTION_COLOURS["rose"]
    assert colours[graph.find("star").id] == DIRECTION_COLOURS["fell"]
    assert colours[graph.find("Paris").id] == DIRECTION_COLOURS["absent"]
    assert len(set(DIRECTION_COLOURS.values())) == len(DIRECTION_COLOURS)  # every state its own colour
    alias_free = [n for n in graph.nodes() if n.id not in {r["node_id"] for r in report.rows}]
    assert all(colours[n.id] == DIRECTION_COLOURS["not measured"] for n in alias_free)


def test_teacher_forced_sits_beside_generated_per_node(tiny, toy) -> None:
    """The second yardstick per node: at the places the 'before' model wrote "star", P(star) > P(sun) under the
    model that wrote it. Moved onto "little", the model no longer writes "star" (generated: fell), yet inside the
    old "star star star" contexts "star" still beats "sun" (teacher-forced: held). The row shows both."""
    from stylekg.pipeline.effects_stage import audited_markers, teacher_forced_markers

    graph, prompts, before, after, _ = toy
    parent, child = graph.find("Toy register").id, graph.find("Toy child").id
    styles = [(parent, "edited"), (child, "subclass")]
    markers = audited_markers(graph, styles)
    assert {m.phrase for m in markers} == {"star", "little"}
    bias = tiny.model.transformer.ln_f.bias.detach().clone()
    try:
        tf = {}
        for when, word in (("before", "star"), ("after", "little")):
            _force(tiny, word)
            tf[when] = teacher_forced_markers(tiny, markers, before, subject="Tell")  # the prompt's first word
    finally:
        with torch.no_grad():
            tiny.model.transformer.ln_f.bias.copy_(bias)
    n, held, _ = tf["before"]["star"]
    assert n > 0 and held == n  # every place: the marker beats its neutral form before
    report = audit(graph, [parent], styles, prompts, before, after, teacher_forced=tf)
    star = _row(report, "star", "Marker")
    held_after = tf["after"]["star"][1] / n
    assert star["teacher_forced"] == {"n": int(n), "held_before": 1.0, "held_after": held_after}
    assert star["direction"] == FELL and held_after > 0.5  # the two yardsticks disagree, side by side
    assert star["metrics"]["tf_held_before"] == 1.0 and "teacher_forced" not in _row(report, "little", "Marker")


def test_edited_nodes_are_the_owners_of_the_requested_edges(toy) -> None:
    """propagate none: the parent's requests may name a subclass as subject, yet only the parent is edited; a
    request on a subclass's own marker edge (explicit, with the subclasses' requests) makes it edited too."""
    from stylekg.kg.schema import EdgeType
    from stylekg.pipeline.effects_stage import edited_nodes
    from stylekg.requests import EditRequest

    graph = toy[0]
    parent, child = graph.find("Toy register").id, graph.find("Toy child").id
    edge = {graph.node(e.target).name: e.id for e in graph.edges(EdgeType.EXPRESSED_BY)}

    def request(marker: str, subject: str) -> EditRequest:
        return EditRequest(prompt="{} says", subject="x", target_true=marker, target_new="plain", edge_id=edge[marker],
                           meta={"subject_id": subject})

    assert edited_nodes(graph, parent, [request("star", child)]) == [parent]
    assert edited_nodes(graph, parent, [request("star", child), request("little", child)]) == [parent, child]
