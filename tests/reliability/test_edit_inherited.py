"""Issue 15 item 1: a style whose markers all come from its abstract parents (the layout the docs recommend) can be
edited from the CLI: the error's hint names ``--inherited``, and ``--inherited`` works (about 10 s, tiny model)."""

from __future__ import annotations

import json

from stylekg.kg.io import save_graph
from tests.stores.graphs import hierarchy


def test_inherited_markers_are_edited_with_the_flag_the_hint_names(cli, tmp_path):
    graph = save_graph(hierarchy("authoring"), tmp_path / "g.json")  # P. T. Barnum: markers only via Hype
    base = ["edit", "--graph", graph, "--node", "P. T. Barnum", "--mode", "erase", "--model", "tiny-gpt2",
            "--method", "rome", "--stats-samples", "300", "--out", tmp_path / "out"]

    refused = cli(*base)
    assert refused.code == 2 and "pass --inherited" in refused.err, refused.err
    assert not (tmp_path / "out").exists()

    done = cli(*base, "--inherited", "--json")
    assert done.code == 0, done.err
    summary = json.loads(done.out[done.out.index("{"):])
    assert summary["n_requests"] >= 1
    cases = json.loads((tmp_path / "out" / "cases.json").read_text())
    assert cases["before"] and (tmp_path / "out" / "edit.safetensors").stat().st_size > 0

    conflict = cli(*base, "--inherited", "--propagate", "explicit")
    assert conflict.code == 2 and "--inherited" in conflict.err
