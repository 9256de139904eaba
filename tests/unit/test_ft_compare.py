"""stylekg.pipeline.method_runs on the tiny GPT-2: every method measured while active, model restored."""

from __future__ import annotations

import torch

from stylekg.editing import EditContext
from stylekg.pipeline.method_runs import compare, style_measures, to_markdown
from stylekg.material import StyleMaterial, as_markers
from stylekg.lm.hooks import hook_count

MATERIAL = StyleMaterial(
    "The captain",
    as_markers({"believe me": 1.0}),
    ("Believe me, this is tremendous, really tremendous.", "Nobody has seen anything like it, believe me."),
    ("The capital of France is Paris.", "The man went to the shop."),
    ("The captain said:",),
)


def test_compare_measures_each_method_and_restores(tiny):
    snap = {n: p.detach().clone() for n, p in tiny.model.named_parameters()}
    measure = style_measures(tiny, MATERIAL, probe_layer=2)
    rows = compare(tiny, ["penalty-ft", "steer", "ft"], [], measure=measure, context=EditContext(material=MATERIAL))
    by = {r.method: r for r in rows}
    assert list(by) == ["none", "penalty-ft", "steer", "ft"]
    assert by["penalty-ft"].metrics["marker_prob"] < by["none"].metrics["marker_prob"] / 10
    assert by["steer"].params_changed == 0 and by["steer"].metrics != by["none"].metrics  # hook was live
    assert by["ft"].error and "no edit requests" in by["ft"].error  # no requests: recorded, not fatal
    assert by["penalty-ft"].seconds > 0 and by["penalty-ft"].params_changed > 0
    table = to_markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "marker_prob" in table
    assert hook_count(tiny.model) == 0
    for name, param in tiny.model.named_parameters():
        assert torch.equal(param, snap[name])
