"""``docs/authoring.md`` run for real: every file it shows is written, every ``stylekg`` command in its ``bash``
blocks runs through the installed entry point on the embedded store in a fresh ``STYLEKG_HOME`` and exits 0,
and every line of a ``text`` block that follows a command appears in that command's output.

About 20 s of CPU (nine CLI processes; no model is loaded). The graph file example of
``docs/style-graphs.md`` is checked too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from stylekg.requests import from_record

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)


def _blocks(page: str) -> list[tuple[str, str, str]]:
    """(language, info after it, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer((DOCS / page).read_text("utf-8"))]


def _title(info: str) -> str | None:
    match = re.search(r'title="([^"]+)"', info)
    return match.group(1) if match else None


def _stylekg() -> list[str]:
    script = Path(sys.executable).with_name("stylekg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stylekg.cli"]


def test_the_authoring_walkthrough_runs_as_written(tmp_path):
    env = {**os.environ, "STYLEKG_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    ran: list[tuple[list[str], str]] = []
    for lang, info, body in _blocks("authoring.md"):
        if lang == "json" and _title(info):
            json.loads(body)  # every file the page shows is valid JSON …
            (tmp_path / _title(info)).write_text(body, encoding="utf-8")  # … and is written as shown
        elif lang == "bash":
            for line in body.splitlines():
                if not line.strip().startswith("stylekg "):
                    continue
                argv = shlex.split(line, comments=True)
                proc = subprocess.run(_stylekg() + argv[1:], cwd=tmp_path, env=env, capture_output=True, text=True,
                                      timeout=300)
                assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
                ran.append((argv, proc.stdout))
        elif lang == "text" and ran:
            out = ran[-1][1]
            for expected in filter(None, (x.rstrip() for x in body.splitlines())):
                assert expected in out, f"{' '.join(ran[-1][0])!r} printed no line {expected!r}:\n{out}"
    assert len(ran) >= 8
    assert (tmp_path / "pirates.html").is_file()
    assert {"save", "add", "show", "requests"} <= {argv[2] for argv, _ in ran if argv[1] == "kg"}
    assert {"viz", "query"} <= {argv[1] for argv, _ in ran}
    implicit = json.loads(next(out for argv, out in ran if "implicit" in argv))  # the plan, as EditPlan.to_json()
    probes = [from_record(r) for group in implicit["probes"].values() for r in group]
    assert {r.subject for r in probes} == {"Captain Jack Sparrow", "Long John Silver"}
    edited = [from_record(r) for r in implicit["requests"]]
    assert edited[0].text == "Raising a tankard, people who talk in nautical slang shouted"
    assert all(r.alias_prompts and r.paraphrase_prompts for r in probes)


def test_the_graph_file_example_of_style_graphs_md_is_a_valid_graph(tmp_path):
    from stylekg.kg.io import load_graph
    from stylekg.kg.schema import EdgeType

    (body,) = [b for lang, info, b in _blocks("style-graphs.md") if lang == "json" and _title(info) == "pirates-graph.json"]
    path = tmp_path / "pirates-graph.json"
    path.write_text(body, encoding="utf-8")
    graph = load_graph(path)
    assert graph.name == "pirates" and len(graph) == 6 and graph.number_of_edges() == 5
    assert [e.target for e in graph.out_edges("Marker:ahoy", EdgeType.NEUTRAL_FORM)] == ["Marker:hello"]


@pytest.mark.parametrize("page", ["authoring.md", "style-graphs.md"])
def test_every_json_block_parses(page):
    for lang, _, body in _blocks(page):
        if lang == "json":
            json.loads(body)
